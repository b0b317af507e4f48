"use client";

import { useMutation, useQuery } from "@tanstack/react-query";
import { LoaderCircle, Play, RotateCcw, SquareTerminal } from "lucide-react";
import { usePathname, useRouter, useSearchParams } from "next/navigation";
import { useMemo, useRef, useState, type FormEvent } from "react";
import { v7 as uuidv7 } from "uuid";
import { useTRPC } from "../trpc";
import { Badge } from "../ui/badge";
import { Button } from "../ui/button";
import { Card } from "../ui/card";
import { EmptyState } from "../ui/empty-state";
import { Alert, ErrorState } from "../ui/error-state";
import { Field, Input } from "../ui/form";
import { PageHeader } from "../ui/page-header";
import { Skeleton } from "../ui/spinner";
import { CommandPicker, type CommandInfo } from "./command-picker";
import { CommandSuccess, RejectionAlert, type CommandResult } from "./command-outcome";
import { ExecutionHistory, useExecutionHistory, type Execution } from "./execution-history";
import { rejectionOf, rejectionSummary, type Rejection } from "./rejection";
import { draftIssues, DraftModeToggle, SchemaInput, useSchemaDraft } from "./schema-form";

type Outcome = { ok: true; result: CommandResult } | { ok: false; rejection: Rejection; submitted: string };

/** "" is no expected version; otherwise a stream version (a non-negative integer). */
function parseVersion(text: string): number | undefined | "invalid" {
  const trimmed = text.trim();
  if (trimmed === "") return undefined;
  return /^\d{1,15}$/.test(trimmed) ? Number(trimmed) : "invalid";
}

function CommandForm({
  command,
  prefill,
  blockedReason,
  onExecuted,
}: {
  command: CommandInfo;
  prefill: { input: Record<string, unknown>; expectedVersion: number | undefined } | undefined;
  /** Why this user cannot run it (a missing scope), or undefined. */
  blockedReason: string | undefined;
  onExecuted(execution: Execution): void;
}) {
  const trpc = useTRPC();
  const draft = useSchemaDraft(command.schema, prefill?.input);
  const [expectedVersion, setExpectedVersion] = useState(prefill?.expectedVersion === undefined ? "" : String(prefill.expectedVersion));
  const [touched, setTouched] = useState(false);
  const [modeRefusal, setModeRefusal] = useState<string | null>(null);
  const [outcome, setOutcome] = useState<Outcome | null>(null);
  // One key per submission: a double click or a retried request runs the command once and both
  // get the first result. A new key is made once the server has answered.
  const idempotencyKey = useRef(uuidv7());
  const execute = useMutation(trpc.commands.execute.mutationOptions());

  const version = parseVersion(expectedVersion);
  const clientIssues = touched ? draftIssues(draft) : [];
  // The server's field issues hold for the input it saw; after an edit they would point at stale values.
  const sent = draft.current.ok ? JSON.stringify(draft.current.value) : null;
  const serverIssues = outcome && !outcome.ok && outcome.rejection.kind === "invalid" && outcome.submitted === sent ? outcome.rejection.issues : [];
  const issues = [...clientIssues, ...serverIssues.filter((issue) => !clientIssues.some((own) => own.path === issue.path && own.message === issue.message))];
  const blocked = touched && (!draft.current.ok || clientIssues.length > 0 || version === "invalid");

  function onSubmit(event: FormEvent) {
    event.preventDefault();
    setTouched(true);
    if (blockedReason || execute.isPending || !draft.current.ok || draftIssues(draft).length > 0 || version === "invalid") return;
    const input = draft.current.value;
    const key = idempotencyKey.current;
    const record = (result: Execution["outcome"]) =>
      onExecuted({ idempotencyKey: key, at: Date.now(), command: command.name, input, expectedVersion: version, outcome: result });
    setOutcome(null);
    execute.mutate(
      { name: command.name, input, idempotencyKey: key, ...(version === undefined ? {} : { expectedVersion: version }) },
      {
        onSuccess(result) {
          setOutcome({ ok: true, result });
          record({ ok: true, result });
        },
        onError(error) {
          const rejection = rejectionOf(error);
          setOutcome({ ok: false, rejection, submitted: JSON.stringify(input) });
          record({ ok: false, kind: rejection.kind, summary: rejectionSummary(rejection) });
        },
        onSettled() {
          idempotencyKey.current = uuidv7();
        },
      },
    );
  }

  return (
    <Card data-testid="command-form" data-command={command.name}>
      <div className="flex items-start gap-4 border-b border-border px-5 py-4">
        <div className="min-w-0 flex-1">
          <h2 className="font-mono text-[15px] font-semibold">{command.name}</h2>
          <p className="mt-1 text-sm text-muted-foreground">{command.description}</p>
          <p className="mt-2 flex flex-wrap items-center gap-x-3 gap-y-1 text-xs text-muted-foreground">
            <span className="inline-flex items-center gap-1.5">
              Needs
              <Badge tone="primary" className="font-mono" data-testid="command-scope">
                {command.scope}
              </Badge>
            </span>
            <span className="font-mono text-muted-foreground/80">POST /api/v1/commands/{command.name}</span>
          </p>
        </div>
        <div className="flex shrink-0 items-center gap-2">
          <Button
            variant="ghost"
            size="xs"
            onClick={() => {
              draft.reset();
              setTouched(false);
              setOutcome(null);
            }}
            title="Back to the schema's defaults"
          >
            <RotateCcw aria-hidden /> Reset
          </Button>
          <DraftModeToggle draft={draft} onRefused={setModeRefusal} />
        </div>
      </div>
      <form onSubmit={onSubmit} noValidate>
        <div className="space-y-4 px-5 py-5">
          {!draft.layout.ok ? (
            <Alert tone="info">This command&apos;s input has a shape the form cannot show ({draft.layout.reason}); edit it as JSON.</Alert>
          ) : null}
          {modeRefusal ? <Alert tone="warning">{modeRefusal}</Alert> : null}
          <SchemaInput draft={draft} issues={issues} idPrefix="command" disabled={execute.isPending} noInput="This command takes no input." />
        </div>
        <div className="flex flex-wrap items-end justify-between gap-4 rounded-b-xl border-t border-border bg-muted/30 px-5 py-4">
          <Field
            label={
              <>
                Expected version <span className="ml-1.5 rounded bg-muted px-1 py-px text-[10px] font-normal tracking-wide text-muted-foreground uppercase">optional</span>
              </>
            }
            htmlFor="command-expected-version"
            error={version === "invalid" ? "must be a stream version: 0, 1, 2…" : undefined}
            hint="If-Match: run only if the stream is still at this version"
            className="w-full sm:w-80"
          >
            <Input
              id="command-expected-version"
              inputMode="numeric"
              value={expectedVersion}
              onChange={(event) => setExpectedVersion(event.target.value)}
              placeholder="Any version"
              aria-invalid={version === "invalid" || undefined}
              className="font-mono"
            />
          </Field>
          <div className="flex items-center gap-3">
            {blockedReason ? (
              <span className="text-xs text-muted-foreground">{blockedReason}</span>
            ) : blocked ? (
              <span className="text-xs text-danger">Fix the marked fields first.</span>
            ) : null}
            <Button type="submit" disabled={execute.isPending || Boolean(blockedReason)} data-testid="command-submit">
              {execute.isPending ? <LoaderCircle className="animate-spin" aria-hidden /> : <Play aria-hidden />}
              {execute.isPending ? "Running…" : "Run command"}
            </Button>
          </div>
        </div>
      </form>
      {outcome ? (
        <div className="border-t border-border px-5 py-4" aria-live="polite">
          {outcome.ok ? <CommandSuccess result={outcome.result} /> : <RejectionAlert rejection={outcome.rejection} onUseVersion={(actual) => setExpectedVersion(String(actual))} />}
        </div>
      ) : null}
    </Card>
  );
}

export function CommandsConsole() {
  const trpc = useTRPC();
  const me = useQuery(trpc.session.me.queryOptions(undefined, { staleTime: 60_000 }));
  const commands = useQuery(trpc.commands.list.queryOptions(undefined, { staleTime: 60_000 }));
  const router = useRouter();
  const pathname = usePathname();
  const searchParams = useSearchParams();
  const history = useExecutionHistory();
  const [loaded, setLoaded] = useState<{ execution: Execution; nonce: number } | null>(null);

  const selectedName = searchParams.get("command") ?? commands.data?.[0]?.name;
  const selected = commands.data?.find((command) => command.name === selectedName);
  const select = (name: string) => router.replace(`${pathname}?command=${encodeURIComponent(name)}`, { scroll: false });

  const blockedReason = useMemo(() => {
    if (!me.data || !selected) return undefined;
    const holds = (scope: string) => me.data.isAdmin || me.data.scopes.some((held) => held === scope);
    if (!holds("commands:execute")) return "Your role cannot run commands (it needs commands:execute).";
    if (!holds(selected.scope)) return `This command needs the ${selected.scope} permission.`;
    return undefined;
  }, [me.data, selected]);

  const prefill =
    loaded && selected && loaded.execution.command === selected.name
      ? { input: (loaded.execution.input ?? {}) as Record<string, unknown>, expectedVersion: loaded.execution.expectedVersion }
      : undefined;

  return (
    <>
      <PageHeader title="Commands" description="Ask the domain to act: each command is validated, authorized, decided by its aggregate and appended as events." />
      {commands.isPending ? (
        <div className="grid gap-5 lg:grid-cols-[19rem_minmax(0,1fr)]">
          <Skeleton className="h-96" />
          <Skeleton className="h-96" />
        </div>
      ) : commands.isError ? (
        <Card>
          <ErrorState title="Could not load the commands" error={commands.error} onRetry={() => void commands.refetch()} />
        </Card>
      ) : commands.data.length === 0 ? (
        <Card>
          <EmptyState icon={SquareTerminal} title="No commands registered">
            Commands are defined by the domain (server/domain) and registered on the command bus at start-up.
          </EmptyState>
        </Card>
      ) : (
        <div className="grid items-start gap-5 lg:grid-cols-[19rem_minmax(0,1fr)]">
          <Card className="flex flex-col overflow-hidden lg:sticky lg:top-6 lg:max-h-[calc(100dvh-3rem)]">
            <CommandPicker commands={commands.data} selected={selected?.name} onSelect={select} />
          </Card>
          <div className="min-w-0 space-y-5">
            {selected ? (
              <CommandForm
                key={`${selected.name}:${loaded?.nonce ?? 0}`}
                command={selected}
                prefill={prefill}
                blockedReason={blockedReason}
                onExecuted={history.add}
              />
            ) : (
              <Card>
                <EmptyState icon={SquareTerminal} title={`No command named ${selectedName ?? ""}`}>
                  Pick one from the list.
                </EmptyState>
              </Card>
            )}
            <ExecutionHistory
              items={history.items}
              onClear={history.clear}
              onLoad={(execution) => {
                setLoaded({ execution, nonce: Date.now() });
                if (execution.command !== selected?.name) select(execution.command);
                window.scrollTo({ top: 0, behavior: "smooth" });
              }}
            />
          </div>
        </div>
      )}
    </>
  );
}
