"use client";

import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { Eye, History, KeyRound, Pencil, PlayCircle, PauseCircle, Plus, Send, ShieldCheck, Trash2, Webhook } from "lucide-react";
import Link from "next/link";
import { useRouter } from "next/navigation";
import { useState } from "react";
import { useTRPC } from "../trpc";
import { Button } from "../ui/button";
import { Card } from "../ui/card";
import { EmptyState } from "../ui/empty-state";
import { Alert, errorMessage, ErrorState } from "../ui/error-state";
import { Stat } from "../ui/live-figures";
import { PageHeader } from "../ui/page-header";
import { RelativeTime } from "../ui/relative-time";
import { Skeleton } from "../ui/spinner";
import { Table, Td, Th, THead } from "../ui/table";
import { ActionsMenu, type MenuItem } from "./actions-menu";
import { EndpointActionDialogs, type EndpointAction } from "./endpoint-actions";
import { EndpointFormDrawer } from "./endpoint-form";
import { SecretDialog, type RevealedSecret } from "./secret-dialog";
import type { EndpointView, EndpointWithStats } from "./types";
import { EndpointStatusBadge, HttpStatus, SuccessRate } from "./webhook-badges";
import { formatLatency, formatPercent, healthOf } from "./webhook-model";

const CHIPS_SHOWN = 3;

function TypeChips({ patterns }: { patterns: readonly string[] }) {
  const shown = patterns.slice(0, CHIPS_SHOWN);
  return (
    <div className="flex max-w-40 flex-wrap gap-1">
      {shown.map((pattern) => (
        <span key={pattern} className="rounded-md border border-border bg-muted/50 px-1.5 py-px font-mono text-[11px] text-foreground/85" data-testid="endpoint-type">
          {pattern}
        </span>
      ))}
      {patterns.length > CHIPS_SHOWN ? (
        <span className="rounded-md px-1 py-px text-[11px] text-muted-foreground" title={patterns.slice(CHIPS_SHOWN).join("\n")}>
          +{patterns.length - CHIPS_SHOWN}
        </span>
      ) : null}
    </div>
  );
}

/** The figures across every endpoint: how many, how many off, the day's attempts and success, the queue. */
function Totals({ endpoints }: { endpoints: readonly EndpointWithStats[] }) {
  const enabled = endpoints.filter((endpoint) => endpoint.status === "enabled").length;
  const attempts = endpoints.reduce((sum, endpoint) => sum + endpoint.stats.attempts, 0);
  const succeeded = endpoints.reduce((sum, endpoint) => sum + (endpoint.stats.successRate ?? 0) * endpoint.stats.attempts, 0);
  const pending = endpoints.reduce((sum, endpoint) => sum + endpoint.stats.pending, 0);
  const failing = endpoints.filter((endpoint) => healthOf(endpoint, endpoint.stats) === "failing").length;
  return (
    <div className="mb-5 grid gap-3 sm:grid-cols-2 lg:grid-cols-4" data-testid="webhook-totals">
      <Stat label="Endpoints" value={endpoints.length.toLocaleString()} hint={`${enabled} enabled · ${endpoints.length - enabled} disabled`} />
      <Stat label="Attempts (24 h)" value={attempts.toLocaleString()} hint={attempts === 0 ? "No deliveries yet" : `${formatPercent(succeeded / attempts)} succeeded`} />
      <Stat label="Queued" value={pending.toLocaleString()} hint="Deliveries waiting for an attempt" />
      <Stat label="Failing" value={<span className={failing > 0 ? "text-danger" : undefined}>{failing}</span>} hint={failing > 0 ? "Endpoints failing now" : "All endpoints healthy"} />
    </div>
  );
}

function EndpointRow({ endpoint, onAction, onEdit, onToggle }: { endpoint: EndpointWithStats; onAction(action: EndpointAction): void; onEdit(): void; onToggle(): void }) {
  const router = useRouter();
  const { stats } = endpoint;
  const health = healthOf(endpoint, stats);
  const items: Array<MenuItem | "separator"> = [
    { label: "Open", icon: Eye, onSelect: () => router.push(`/webhooks/${endpoint.id}`) },
    { label: "Edit", icon: Pencil, onSelect: onEdit, testId: "action-edit" },
    { label: "Send test", icon: Send, onSelect: () => onAction("test"), testId: "action-test" },
    { label: "Recover failed", icon: History, onSelect: () => onAction("recover") },
    { label: "Rotate secret", icon: KeyRound, onSelect: () => onAction("rotate") },
    endpoint.status === "enabled"
      ? { label: "Disable", icon: PauseCircle, onSelect: () => onAction("disable"), testId: "action-disable" }
      : { label: "Enable", icon: PlayCircle, onSelect: onToggle, testId: "action-enable" },
    "separator",
    { label: "Delete", icon: Trash2, onSelect: () => onAction("delete"), danger: true, testId: "action-delete" },
  ];
  return (
    <tr
      className="cursor-pointer border-b border-border align-top transition-colors last:border-b-0 hover:bg-muted/40"
      onClick={() => router.push(`/webhooks/${endpoint.id}`)}
      data-testid="endpoint-row"
      data-endpoint={endpoint.id}
      data-url={endpoint.url}
    >
      <Td className="max-w-[20rem] py-3">
        <Link href={`/webhooks/${endpoint.id}`} className="block truncate font-mono text-[13px] font-medium hover:text-primary hover:underline" title={endpoint.url} onClick={(event) => event.stopPropagation()}>
          {endpoint.url}
        </Link>
        <p className="mt-0.5 truncate text-xs text-muted-foreground">{endpoint.description || <span className="italic opacity-70">No description</span>}</p>
      </Td>
      <Td className="py-3">
        <TypeChips patterns={endpoint.eventTypes} />
        {endpoint.filter ? (
          <p className="mt-1 max-w-40 truncate font-mono text-[11px] text-muted-foreground" title={endpoint.filter}>
            if {endpoint.filter}
          </p>
        ) : null}
      </Td>
      <Td className="py-3">
        <EndpointStatusBadge endpoint={endpoint} />
        {endpoint.status === "enabled" && endpoint.failingSince ? (
          <p className="mt-1 text-[11px] whitespace-nowrap text-danger">
            failing since <RelativeTime time={endpoint.failingSince} />
          </p>
        ) : endpoint.disabledAt ? (
          <p className="mt-1 text-[11px] whitespace-nowrap text-muted-foreground">
            <RelativeTime time={endpoint.disabledAt} />
          </p>
        ) : null}
      </Td>
      <Td className="py-3">
        <SuccessRate rate={stats.successRate} health={health} attempts={stats.attempts} />
      </Td>
      <Td className="py-3 whitespace-nowrap">
        <HttpStatus status={stats.lastStatus} />
        {stats.lastAttemptAt ? <RelativeTime time={stats.lastAttemptAt} className="ml-2 text-xs text-muted-foreground" /> : null}
        <p className="mt-1 text-[11px] text-muted-foreground" data-testid="endpoint-p95">
          p95 <span className="font-mono text-foreground/80 tabular-nums">{formatLatency(stats.p95LatencyMs)}</span>
        </p>
      </Td>
      <Td className="py-3 text-right text-xs whitespace-nowrap tabular-nums" data-testid="endpoint-queue">
        <span className={stats.pending > 0 ? "font-medium text-foreground" : "text-muted-foreground"}>{stats.pending.toLocaleString()}</span>
        {stats.skipped > 0 ? <p className="text-[11px] text-amber-700 dark:text-amber-300">{stats.skipped.toLocaleString()} skipped</p> : null}
        {stats.failed > 0 ? <p className="text-[11px] text-danger">{stats.failed.toLocaleString()} failed</p> : null}
      </Td>
      <Td className="w-10 py-2.5 pl-1 text-right">
        <ActionsMenu items={items} label={`Actions for ${endpoint.url}`} />
      </Td>
    </tr>
  );
}

export function WebhooksPage() {
  const trpc = useTRPC();
  const queryClient = useQueryClient();
  const router = useRouter();
  const list = useQuery(trpc.webhooks.list.queryOptions({ limit: 200 }, { refetchInterval: 5_000 }));
  const [formFor, setFormFor] = useState<EndpointView | "new" | null>(null);
  const [acting, setActing] = useState<{ endpoint: EndpointView; action: EndpointAction } | null>(null);
  const [revealed, setRevealed] = useState<RevealedSecret | null>(null);
  const enable = useMutation(trpc.webhooks.setEnabled.mutationOptions({ onSuccess: () => void queryClient.invalidateQueries({ queryKey: trpc.webhooks.pathKey() }) }));
  const items = list.data?.items ?? [];
  const addButton = (
    <Button onClick={() => setFormFor("new")} data-testid="add-endpoint">
      <Plus aria-hidden /> Add endpoint
    </Button>
  );

  return (
    <>
      <PageHeader
        title="Webhooks"
        description="Signed Standard Webhooks deliveries of the events each endpoint subscribes to: retried, logged attempt by attempt."
        actions={items.length > 0 ? addButton : null}
      />
      {list.isPending ? (
        <div className="space-y-4">
          <div className="grid gap-3 sm:grid-cols-2 lg:grid-cols-4">
            {Array.from({ length: 4 }, (_, index) => (
              <Skeleton key={index} className="h-20" />
            ))}
          </div>
          <Skeleton className="h-64" />
        </div>
      ) : list.isError ? (
        <Card>
          <ErrorState title="Could not load the endpoints" error={list.error} onRetry={() => void list.refetch()} />
        </Card>
      ) : items.length === 0 ? (
        <Card>
          <EmptyState icon={Webhook} title="No webhook endpoints yet" action={addButton}>
            Add an endpoint to have the events it subscribes to POSTed to it, signed (
            <code className="font-mono text-xs">webhook-signature</code>), retried on the Standard Webhooks schedule, and logged attempt by attempt.
          </EmptyState>
        </Card>
      ) : (
        <>
          <Totals endpoints={items} />
          {enable.isError ? <Alert className="mb-3">Could not enable the endpoint: {errorMessage(enable.error)}</Alert> : null}
          <Card className="overflow-hidden" data-testid="endpoints-table">
            <Table>
              <THead>
                <tr>
                  <Th>Endpoint</Th>
                  <Th>Event types</Th>
                  <Th>Status</Th>
                  <Th>Success (24 h)</Th>
                  <Th>Last</Th>
                  <Th className="text-right">Queue</Th>
                  <Th>
                    <span className="sr-only">Actions</span>
                  </Th>
                </tr>
              </THead>
              <tbody>
                {items.map((endpoint) => (
                  <EndpointRow
                    key={endpoint.id}
                    endpoint={endpoint}
                    onEdit={() => setFormFor(endpoint)}
                    onAction={(action) => setActing({ endpoint, action })}
                    onToggle={() => enable.mutate({ id: endpoint.id, enabled: true })}
                  />
                ))}
              </tbody>
            </Table>
          </Card>
          <p className="mt-3 flex items-center gap-1.5 px-1 text-xs text-muted-foreground">
            <ShieldCheck className="size-3.5" aria-hidden /> Secrets are encrypted at rest and shown only when created or rotated. Health covers the last 24 hours.
          </p>
        </>
      )}

      <EndpointFormDrawer
        open={formFor !== null}
        endpoint={formFor === "new" ? null : formFor}
        onClose={() => setFormFor(null)}
        onCreated={(result) => {
          setFormFor(null);
          setRevealed({ secret: result.secret, url: result.endpoint.url, kind: "created" });
        }}
        onSaved={() => setFormFor(null)}
      />
      <EndpointActionDialogs
        endpoint={acting?.endpoint ?? null}
        action={acting?.action ?? null}
        onClose={() => setActing(null)}
        onOpenAttempt={(attempt) => router.push(`/webhooks/${attempt.endpointId}?attempt=${attempt.id}`)}
      />
      <SecretDialog revealed={revealed} onClose={() => setRevealed(null)} />
    </>
  );
}
