import type { UseQueryResult } from "@tanstack/react-query";
import { SearchX } from "lucide-react";
import type { ReactNode } from "react";
import { Card } from "./card";
import { EmptyState } from "./empty-state";
import { ErrorState } from "./error-state";
import { Skeleton } from "./spinner";

/** What a view shows of a query before it has data: placeholders while it loads, or its error with a retry. */

/** A list's query in a card: placeholder rows while it loads, its error with a retry, `empty`, or `children` with the rows. */
export function ListStates<T>({
  query,
  errorTitle,
  empty,
  children,
}: {
  query: UseQueryResult<T[], unknown>;
  errorTitle: string;
  empty: ReactNode;
  children(rows: T[]): ReactNode;
}) {
  if (query.isPending) {
    return (
      <div className="space-y-2 p-5">
        {Array.from({ length: 3 }, (_, index) => (
          <Skeleton key={index} className="h-10 w-full" />
        ))}
      </div>
    );
  }
  if (query.isError) return <ErrorState title={errorTitle} error={query.error} onRetry={() => void query.refetch()} />;
  return query.data.length === 0 ? empty : children(query.data);
}

/**
 * One record's query (a detail view): `placeholders` (their classes) while it loads; in a card,
 * `notFound` when the server answers NOT_FOUND, else the error with a retry; then `children` with
 * the record.
 */
export function DetailStates<T>({
  query,
  placeholders,
  notFound,
  errorTitle,
  children,
}: {
  query: UseQueryResult<T, unknown>;
  placeholders: readonly string[];
  notFound: { title: string; children: ReactNode };
  errorTitle: string;
  children(record: T): ReactNode;
}) {
  if (query.isPending) {
    return (
      <div className="space-y-4">
        {placeholders.map((className, index) => (
          <Skeleton key={index} className={className} />
        ))}
      </div>
    );
  }
  if (query.isError) {
    const code = (query.error as { data?: { code?: string } } | null)?.data?.code;
    return (
      <Card>
        {code === "NOT_FOUND" ? (
          <EmptyState icon={SearchX} title={notFound.title}>
            {notFound.children}
          </EmptyState>
        ) : (
          <ErrorState title={errorTitle} error={query.error} onRetry={() => void query.refetch()} />
        )}
      </Card>
    );
  }
  return children(query.data);
}
