import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { migrate, openDatabase, type Database } from "@/server/adapters/postgres/database";
import { PostgresReadModelStore } from "@/server/adapters/postgres/read-models";
import { createTestDatabase } from "@/server/adapters/postgres/test-database";
import { ProjectionRunner } from "@/server/engine/cqrs/projection-runner";
import { QueryBus } from "@/server/engine/cqrs/query-bus";
import { InMemoryLease } from "@/server/engine/transport/lease";
import { domainHarness, reader, startProjections, teacher, typicalOutcome, type DomainHarness } from "@/server/domain/domain.fixtures";
import { domainProjections } from "@/server/domain/projections";
import { domainQueries } from "@/server/domain/queries";
import { domainReadModelTables } from "./read-models";

/**
 * The domain's read models on Postgres (the migration's templates, the drizzle tables bound in
 * read-models.ts) answer every domain query exactly as the in-memory read models do, for the same
 * log: columns, types, nulls, JSON, times, order and pages.
 */

const okafor = teacher("key-okafor");
const haddad = teacher("key-haddad");

/** Two exams with sheets in every state (set aside for manual review after unreadable OCR or failed grading, graded, reviewed), one published, and one deleted exam. */
async function gradedLog(): Promise<{ harness: DomainHarness; examIds: string[]; sheetIds: string[] }> {
  const harness = domainHarness({
    outcome: (task) => {
      const { studentId } = task.input as { studentId?: string };
      if (task.type === "ocr_processing" && studentId === "stu-3") return { dead: { message: "scan resolution below 150 dpi", reason: "non_retryable" } };
      if (task.type === "grading_execution" && studentId === "stu-4") return { dead: { message: "grader lost its lease", reason: "attempts_exhausted" } };
      return typicalOutcome(task);
    },
  });
  const examIds: string[] = [];
  const sheetIds: string[] = [];
  for (const [principal, title, totalScore] of [[okafor, "Algebra II: Midterm", 80], [haddad, "Cell Biology: Unit Test 3", 60], [okafor, "Quiz 5", 20]] as const) {
    const { streamId } = await harness.execute("exam.create", { title, subject: title.split(":")[0], totalScore, questionCount: 12, durationMinutes: 45 }, { principal });
    examIds.push(streamId.replace(/^exam-/, ""));
  }
  const [algebra, biology, quiz] = examIds as [string, string, string];
  for (const [examId, principal] of [[algebra, okafor], [biology, haddad]] as const) {
    for (const studentId of ["stu-1", "stu-2", "stu-3", "stu-4", "stu-5"]) {
      const { streamId } = await harness.execute("sheet.submit", { examId, studentId, pageCount: 3 }, { principal });
      sheetIds.push(streamId.replace(/^sheet-/, ""));
    }
  }
  await harness.settle();
  await harness.execute("sheet.review", { sheetId: sheetIds[0], score: 70.5, reason: "student appeal" }, { principal: okafor });
  await harness.execute("sheet.review", { sheetId: sheetIds[6], score: 45, reason: "random quality sample" }, { principal: haddad });
  await harness.execute("exam.publish_results", { examId: algebra }, { principal: okafor });
  await harness.execute("exam.delete", { examId: quiz, reason: "created by mistake" }, { principal: okafor });
  await harness.settle();
  expect(harness.failures).toEqual([]);
  return { harness, examIds, sheetIds };
}

function describeOn(kind: string, open: () => Promise<{ database: Database; release(): Promise<void> }>): void {
  describe(`domain read models on ${kind}`, () => {
    let database: Database;
    let release: () => Promise<void>;
    let harness: DomainHarness;
    let examIds: string[];
    let sheetIds: string[];
    let runner: ProjectionRunner;
    let postgresQueries: QueryBus;

    beforeAll(async () => {
      ({ database, release } = await open());
      await migrate(database);
      ({ harness, examIds, sheetIds } = await gradedLog());
      await harness.startProjections();
      const readModels = new PostgresReadModelStore(database, domainReadModelTables);
      runner = new ProjectionRunner({
        store: harness.store,
        readModels,
        lease: new InMemoryLease(),
        owner: "read-models-test",
        projections: domainProjections,
        upcast: (event) => harness.registry.upcast(event),
        pollIntervalMs: 10,
      });
      await startProjections(runner, 30_000);
      postgresQueries = new QueryBus({ source: readModels, pollMs: 10 });
      for (const query of domainQueries) postgresQueries.register(query);
    });

    afterAll(async () => {
      await runner?.stop();
      await harness?.close();
      await release?.();
    });

    /** Both answers, each read model having applied the whole log. */
    async function bothAnswer(name: string, params: Record<string, unknown>): Promise<[unknown, unknown]> {
      const minPosition = await harness.store.headPosition();
      const [memory, postgres] = await Promise.all([
        harness.queries.execute(name, params, { principal: reader, minPosition, waitMs: 10_000 }),
        postgresQueries.execute(name, params, { principal: reader, minPosition, waitMs: 10_000 }),
      ]);
      return [memory.result, postgres.result];
    }

    it("answer exams.get, exams.grading_stats and sheets.get like the in-memory read models", async () => {
      for (const examId of examIds) {
        const [memory, postgres] = await bothAnswer("exams.get", { examId });
        expect(postgres).toEqual(memory);
      }
      const [memoryExam] = await bothAnswer("exams.get", { examId: examIds[0] });
      expect(memoryExam).toMatchObject({ status: "results_published", sheetCounts: { manual_review: 2, graded: 2, reviewed: 1 } });
      for (const examId of examIds.slice(0, 2)) {
        const [memory, postgres] = await bothAnswer("exams.grading_stats", { examId });
        expect(postgres).toEqual(memory);
        expect(memory).toMatchObject({ gradedCount: 3, reviewedCount: 1 });
      }
      for (const sheetId of sheetIds) {
        const [memory, postgres] = await bothAnswer("sheets.get", { sheetId });
        expect(postgres).toEqual(memory);
      }
    });

    it("answer the lists page by page like the in-memory read models", async () => {
      const lists: Array<[string, Record<string, unknown>]> = [
        ["exams.list", { limit: "2" }],
        ["exams.list", { limit: "1", createdBy: "key-okafor" }],
        ["exams.list", { status: "open" }],
        ["exams.sheets", { examId: examIds[0], limit: "2" }],
        ["exams.sheets", { examId: examIds[1], status: "graded", limit: "1" }],
      ];
      for (const [name, params] of lists) {
        let memoryAfter: string | undefined;
        let postgresAfter: string | undefined;
        for (let page = 0; page < 10; page += 1) {
          const [memory, postgres] = (await Promise.all([
            bothAnswer(name, { ...params, ...(memoryAfter ? { after: memoryAfter } : {}) }).then(([answer]) => answer),
            bothAnswer(name, { ...params, ...(postgresAfter ? { after: postgresAfter } : {}) }).then(([, answer]) => answer),
          ])) as Array<{ items: unknown[]; next: string | null }>;
          expect(postgres!.items, `${name} ${JSON.stringify(params)} page ${page}`).toEqual(memory!.items);
          expect(postgres!.next === null).toBe(memory!.next === null);
          if (memory!.next === null) break;
          memoryAfter = memory!.next;
          postgresAfter = postgres!.next!;
        }
      }
    });
  });
}

describeOn("PGlite", async () => {
  const database = await openDatabase();
  return { database, release: () => database.close() };
});

describeOn("PostgreSQL", async () => {
  const testDb = await createTestDatabase();
  const database = await openDatabase({ databaseUrl: testDb.url });
  return {
    database,
    async release() {
      await database.close();
      await testDb.drop();
    },
  };
});
