"use client";

import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { History, KeyRound, LoaderCircle, PauseCircle, Send, Trash2 } from "lucide-react";
import { useId, useState } from "react";
import { typeMatches } from "../events/type-patterns";
import { useTRPC } from "../trpc";
import { Button } from "../ui/button";
import { Alert, errorMessage } from "../ui/error-state";
import { Field, Input, Textarea } from "../ui/form";
import { JsonView } from "../ui/json-view";
import { Dialog } from "../ui/overlay";
import { SecretDialog, type RevealedSecret } from "./secret-dialog";
import type { AttemptDetail, EndpointView } from "./types";
import { AttemptStatusBadge, HttpStatus } from "./webhook-badges";
import { formatLatency, fromLocalInput, parseBody, toLocalInput } from "./webhook-model";

export type EndpointAction = "test" | "rotate" | "recover" | "disable" | "delete";

const TEST_TYPE = "webhook.test";

/** The test's data as typed: nothing when blank, else JSON or why it is not. */
function parseData(text: string): { ok: true; value: unknown } | { ok: false; message: string } {
  if (text.trim() === "") return { ok: true, value: undefined };
  try {
    return { ok: true, value: JSON.parse(text) as unknown };
  } catch (error) {
    return { ok: false, message: errorMessage(error) };
  }
}

function SendTestBody({ endpoint, onClose, onOpenAttempt }: { endpoint: EndpointView; onClose(): void; onOpenAttempt?(attempt: AttemptDetail): void }) {
  const trpc = useTRPC();
  const queryClient = useQueryClient();
  const ids = useId();
  const [type, setType] = useState(TEST_TYPE);
  const [data, setData] = useState('{\n  "message": "Hello from Eventloom"\n}');
  const parsed = parseData(data);
  const types = useQuery(trpc.webhooks.eventTypes.queryOptions(undefined, { staleTime: 60_000 }));
  // webhook.test first, then the registered types this endpoint subscribes to.
  const suggestions = [TEST_TYPE, ...(types.data ?? []).map((registered) => registered.type).filter((name) => name !== TEST_TYPE && endpoint.eventTypes.some((pattern) => typeMatches(pattern, name)))];
  const send = useMutation(
    trpc.webhooks.sendTest.mutationOptions({ onSuccess: () => void queryClient.invalidateQueries({ queryKey: trpc.webhooks.pathKey() }) }),
  );
  const attempt = send.data;
  const response = attempt?.response ? parseBody(attempt.response.body) : null;
  return (
    <>
      <div className="space-y-4">
        <Field label="Event type" htmlFor={`${ids}-type`} hint="A registered type; webhook.test is made for this. The event is not stored in the log.">
          <Input id={`${ids}-type`} value={type} onChange={(event) => setType(event.target.value)} list={`${ids}-types`} className="font-mono text-xs" data-testid="test-type" />
          <datalist id={`${ids}-types`}>
            {suggestions.map((name) => (
              <option key={name} value={name} />
            ))}
          </datalist>
        </Field>
        <Field label="Data (JSON)" htmlFor={`${ids}-data`} error={parsed.ok ? undefined : parsed.message}>
          <Textarea id={`${ids}-data`} value={data} onChange={(event) => setData(event.target.value)} rows={5} spellCheck={false} className="font-mono text-xs leading-5" aria-invalid={!parsed.ok || undefined} data-testid="test-data" />
        </Field>
        {send.isError ? <Alert title="Not sent">{errorMessage(send.error)}</Alert> : null}
        {attempt ? (
          <div className="space-y-2 rounded-lg border border-border bg-muted/30 p-3" data-testid="test-result" data-status={attempt.status}>
            <div className="flex flex-wrap items-center gap-2 text-xs">
              <AttemptStatusBadge status={attempt.status} />
              <HttpStatus status={attempt.response?.status ?? null} />
              <span className="font-mono text-muted-foreground tabular-nums">{formatLatency(attempt.durationMs)}</span>
              {onOpenAttempt ? (
                <Button variant="ghost" size="xs" className="ml-auto" onClick={() => onOpenAttempt(attempt)} data-testid="test-open-attempt">
                  Open in the log
                </Button>
              ) : null}
            </div>
            {attempt.error ? <p className="font-mono text-xs text-danger">{attempt.error}</p> : null}
            {response ? (
              response.json ? (
                <JsonView value={response.value} className="max-h-48 overflow-auto" />
              ) : (
                <pre className="max-h-48 overflow-auto rounded-md bg-muted/60 p-2 font-mono text-xs whitespace-pre-wrap">{response.text || "(empty body)"}</pre>
              )
            ) : null}
          </div>
        ) : null}
      </div>
      <div className="-mx-6 mt-4 -mb-4 flex justify-end gap-2 rounded-b-xl border-t border-border bg-muted/40 px-6 py-3">
        <Button variant="outline" onClick={onClose}>
          Close
        </Button>
        <Button
          onClick={() => parsed.ok && send.mutate({ id: endpoint.id, ...(type.trim() ? { type: type.trim() } : {}), ...(parsed.value === undefined ? {} : { data: parsed.value }) })}
          disabled={send.isPending || !parsed.ok}
          data-testid="test-send"
        >
          {send.isPending ? <LoaderCircle className="animate-spin" aria-hidden /> : <Send aria-hidden />}
          {attempt ? "Send again" : "Send test"}
        </Button>
      </div>
    </>
  );
}

function RecoverBody({ endpoint, onClose }: { endpoint: EndpointView; onClose(): void }) {
  const trpc = useTRPC();
  const queryClient = useQueryClient();
  const ids = useId();
  const [since, setSince] = useState(() => toLocalInput(new Date(Date.now() - 24 * 3_600_000)));
  const instant = fromLocalInput(since);
  const recover = useMutation(trpc.webhooks.recover.mutationOptions({ onSuccess: () => void queryClient.invalidateQueries({ queryKey: trpc.webhooks.pathKey() }) }));
  return (
    <>
      <div className="space-y-3">
        <Field label="Failed since" htmlFor={`${ids}-since`} error={instant ? undefined : "must be a date and time"} hint="Your local time">
          <Input id={`${ids}-since`} type="datetime-local" value={since} onChange={(event) => setSince(event.target.value)} className="w-64 font-mono text-xs" data-testid="recover-since" />
        </Field>
        {recover.isSuccess ? (
          <Alert tone="info" title={`${recover.data.recovered.toLocaleString()} deliver${recover.data.recovered === 1 ? "y" : "ies"} queued again`}>
            They are sent again now, on the endpoint&apos;s rate limit.
          </Alert>
        ) : null}
        {recover.isError ? <Alert title="Not recovered">{errorMessage(recover.error)}</Alert> : null}
      </div>
      <div className="-mx-6 mt-4 -mb-4 flex justify-end gap-2 rounded-b-xl border-t border-border bg-muted/40 px-6 py-3">
        <Button variant="outline" onClick={onClose}>
          {recover.isSuccess ? "Done" : "Cancel"}
        </Button>
        <Button onClick={() => instant && recover.mutate({ id: endpoint.id, since: instant })} disabled={recover.isPending || !instant} data-testid="recover-confirm">
          {recover.isPending ? <LoaderCircle className="animate-spin" aria-hidden /> : <History aria-hidden />}
          Recover
        </Button>
      </div>
    </>
  );
}

/**
 * The dialogs of an endpoint's actions (send test, rotate, recover, disable, delete), shared by the
 * list's menu and the detail page. Enabling needs no dialog: it only starts deliveries again.
 */
export function EndpointActionDialogs({
  endpoint,
  action,
  onClose,
  onDeleted,
  onOpenAttempt,
}: {
  endpoint: EndpointView | null;
  action: EndpointAction | null;
  onClose(): void;
  onDeleted?(): void;
  onOpenAttempt?(attempt: AttemptDetail): void;
}) {
  const trpc = useTRPC();
  const queryClient = useQueryClient();
  const invalidate = () => void queryClient.invalidateQueries({ queryKey: trpc.webhooks.pathKey() });
  const [revealed, setRevealed] = useState<RevealedSecret | null>(null);
  const rotate = useMutation(trpc.webhooks.rotateSecret.mutationOptions({ onSuccess: invalidate }));
  const disable = useMutation(trpc.webhooks.setEnabled.mutationOptions({ onSuccess: invalidate }));
  const remove = useMutation(trpc.webhooks.delete.mutationOptions());
  const close = () => {
    rotate.reset();
    disable.reset();
    remove.reset();
    onClose();
  };
  const open = (which: EndpointAction) => endpoint !== null && action === which;
  const url = <span className="font-mono text-xs break-all">{endpoint?.url}</span>;

  return (
    <>
      <Dialog open={open("test")} onClose={close} title="Send a test delivery" description={url} className="sm:max-w-xl">
        {endpoint && open("test") ? <SendTestBody endpoint={endpoint} onClose={close} onOpenAttempt={onOpenAttempt} /> : null}
      </Dialog>
      <Dialog open={open("recover")} onClose={close} title="Recover failed deliveries" description="Deliveries that failed for good since this time are sent again (at most 10,000).">
        {endpoint && open("recover") ? <RecoverBody endpoint={endpoint} onClose={close} /> : null}
      </Dialog>
      <Dialog
        open={open("rotate")}
        onClose={close}
        title="Rotate the signing secret?"
        description="A new secret signs every delivery from now on. The current one keeps signing too, as a second signature, for 24 hours: receivers can switch over without missing a delivery."
        footer={
          <>
            <Button variant="outline" onClick={close}>
              Cancel
            </Button>
            <Button
              onClick={() =>
                endpoint &&
                rotate.mutate(
                  { id: endpoint.id },
                  {
                    onSuccess: (result) => {
                      close();
                      setRevealed({ secret: result.secret, url: result.endpoint.url, kind: "rotated" });
                    },
                  },
                )
              }
              disabled={rotate.isPending}
              data-testid="rotate-confirm"
            >
              {rotate.isPending ? <LoaderCircle className="animate-spin" aria-hidden /> : <KeyRound aria-hidden />}
              Rotate secret
            </Button>
          </>
        }
      >
        {rotate.isError ? <Alert title="Not rotated">{errorMessage(rotate.error)}</Alert> : null}
      </Dialog>
      <Dialog
        open={open("disable")}
        onClose={close}
        title="Disable this endpoint?"
        description="No deliveries are attempted while it is off. Events that arrive meanwhile are kept as skipped deliveries and caught up, throttled, when it is enabled again."
        footer={
          <>
            <Button variant="outline" onClick={close}>
              Keep enabled
            </Button>
            <Button variant="danger" onClick={() => endpoint && disable.mutate({ id: endpoint.id, enabled: false }, { onSuccess: close })} disabled={disable.isPending} data-testid="disable-confirm">
              {disable.isPending ? <LoaderCircle className="animate-spin" aria-hidden /> : <PauseCircle aria-hidden />}
              Disable
            </Button>
          </>
        }
      >
        {disable.isError ? <Alert title="Not disabled">{errorMessage(disable.error)}</Alert> : null}
      </Dialog>
      <Dialog
        open={open("delete")}
        onClose={close}
        title="Delete this endpoint?"
        description={
          <>
            {url}
            <span className="mt-2 block">Its pending deliveries and its whole attempts log are removed with it. This cannot be undone.</span>
          </>
        }
        footer={
          <>
            <Button variant="outline" onClick={close}>
              Keep it
            </Button>
            <Button
              variant="danger"
              onClick={() =>
                endpoint &&
                remove.mutate(
                  { id: endpoint.id },
                  {
                    onSuccess: () => {
                      close();
                      invalidate();
                      onDeleted?.();
                    },
                  },
                )
              }
              disabled={remove.isPending}
              data-testid="delete-confirm"
            >
              {remove.isPending ? <LoaderCircle className="animate-spin" aria-hidden /> : <Trash2 aria-hidden />}
              Delete endpoint
            </Button>
          </>
        }
      >
        {remove.isError ? <Alert title="Not deleted">{errorMessage(remove.error)}</Alert> : null}
      </Dialog>
      <SecretDialog revealed={revealed} onClose={() => setRevealed(null)} />
    </>
  );
}
