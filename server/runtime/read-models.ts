import type { ReadModelTableFactories, ReadModelTableFactory } from "@/server/adapters/postgres/read-models";
import { examSheetsReadModel, examsReadModel, gradingStatsReadModel } from "@/server/adapters/postgres/schema/read-models";
import {
  examSheetsTable,
  examsTable,
  gradingStatsTable,
  type ExamRow,
  type ExamSheetRow,
  type GradingStatsRow,
} from "@/server/domain/projections";

/**
 * The domain's logical read-model tables bound to their drizzle tables, for the
 * PostgresReadModelStore. The domain cannot see drizzle and the adapters cannot see the domain,
 * so this is where a row type and its table are held to each other: the assertions below fail to
 * compile when a projection's row and its table's `$inferSelect` differ in any column, its type or
 * its nullability.
 */

/** True when A and B are the same type (not merely assignable one way). */
type Same<A, B> = (<T>() => T extends A ? 1 : 2) extends <T>() => T extends B ? 1 : 2 ? true : false;
type SelectOf<TFactory extends ReadModelTableFactory> = ReturnType<TFactory>["$inferSelect"];
/** Pretty-prints intersections and mapped types to plain objects, so equal shapes compare equal. */
type Plain<T> = { [K in keyof T]: T[K] };

const rowsMatchTables: [
  Same<Plain<ExamRow>, Plain<SelectOf<typeof examsReadModel>>>,
  Same<Plain<ExamSheetRow>, Plain<SelectOf<typeof examSheetsReadModel>>>,
  Same<Plain<GradingStatsRow>, Plain<SelectOf<typeof gradingStatsReadModel>>>,
] = [true, true, true];
void rowsMatchTables;

export const domainReadModelTables: ReadModelTableFactories = {
  [examsTable.name]: examsReadModel,
  [examSheetsTable.name]: examSheetsReadModel,
  [gradingStatsTable.name]: gradingStatsReadModel,
};
