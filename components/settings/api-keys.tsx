"use client";

import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { KeyRound, Plus, ShieldAlert, TriangleAlert } from "lucide-react";
import { useState, type FormEvent } from "react";
import { useTRPC, type RouterOutputs } from "../trpc";
import { Badge } from "../ui/badge";
import { Button } from "../ui/button";
import { Card, CardHeader } from "../ui/card";
import { cn } from "../ui/cn";
import { CopyButton } from "../ui/copy-button";
import { EmptyState } from "../ui/empty-state";
import { Alert, errorMessage } from "../ui/error-state";
import { Dialog } from "../ui/overlay";
import { ListStates } from "../ui/query-states";
import { RelativeTime } from "../ui/relative-time";
import { Skeleton } from "../ui/spinner";
import { Table, Td } from "../ui/table";
import { ChangePasswordCard } from "./change-password";
import { ChoiceCard, DialogActions, DoneDialog, FormDialog, InputField, ListHead, useMe } from "./parts";
import { scopeHelp } from "./scopes";
import { UsersPanel } from "./users";

type ApiKey = RouterOutputs["apiKeys"]["list"][number];

function CreateKeyDialog({ open, onClose, availableScopes }: { open: boolean; onClose(): void; availableScopes: string[] }) {
  const trpc = useTRPC();
  const queryClient = useQueryClient();
  const [name, setName] = useState("");
  const [scopes, setScopes] = useState<string[]>(["events:read"]);
  const [attempted, setAttempted] = useState(false);
  const create = useMutation(
    trpc.apiKeys.create.mutationOptions({
      onSuccess: () => queryClient.invalidateQueries({ queryKey: trpc.apiKeys.list.queryKey() }),
    }),
  );

  function close() {
    setName("");
    setScopes(["events:read"]);
    setAttempted(false);
    create.reset();
    onClose();
  }

  function submit(event: FormEvent) {
    event.preventDefault();
    setAttempted(true);
    if (!name.trim() || scopes.length === 0) return;
    create.mutate({ name: name.trim(), scopes: scopes as Parameters<typeof create.mutate>[0]["scopes"] });
  }

  if (create.data) {
    return (
      <DoneDialog open={open} onClose={close} title="API key created" description="Copy the key now. It is stored hashed and will not be shown again." doneTestId="api-key-done">
        <div className="flex items-center gap-2 rounded-lg border border-border bg-muted/60 p-3">
          <code className="min-w-0 flex-1 font-mono text-sm break-all" data-testid="api-key-plaintext">
            {create.data.key}
          </code>
          <CopyButton value={create.data.key} label="Copy key" className="size-8" />
        </div>
        <Alert tone="warning">
          Anyone with this key can act with its scopes: {create.data.record.scopes.join(", ")}. Keep it in a secret store.
        </Alert>
        <p className="text-xs text-muted-foreground">
          Use it as <code className="font-mono">Authorization: Bearer &lt;key&gt;</code> on the REST API.
        </p>
      </DoneDialog>
    );
  }

  const nameError = attempted && !name.trim() ? "Give the key a name" : undefined;
  const scopeError = attempted && scopes.length === 0 ? "Pick at least one scope" : undefined;
  return (
    <FormDialog
      open={open}
      onClose={close}
      title="Create API key"
      description="Keys authenticate REST clients. Give each client its own key with only the scopes it needs."
      formId="create-key-form"
      onSubmit={submit}
      pending={create.isPending}
      submitLabel="Create key"
      submitTestId="api-key-submit"
    >
      <InputField
        label="Name"
        id="key-name"
        error={nameError}
        hint="Who or what uses it, e.g. billing-service"
        value={name}
        onChange={(event) => setName(event.target.value)}
        maxLength={100}
        autoFocus
      />
      <fieldset>
        <legend className="text-xs font-medium text-muted-foreground">Scopes</legend>
        <div className="mt-2 grid gap-2 sm:grid-cols-2">
          {availableScopes.map((scope) => {
            const checked = scopes.includes(scope);
            return (
              <ChoiceCard
                key={scope}
                type="checkbox"
                checked={checked}
                onChange={() => setScopes(checked ? scopes.filter((item) => item !== scope) : [...scopes, scope])}
              >
                <span>
                  <span className="block font-mono text-xs font-medium">{scope}</span>
                  <span className="block text-xs text-muted-foreground">{scopeHelp[scope] ?? ""}</span>
                </span>
              </ChoiceCard>
            );
          })}
        </div>
        {scopeError ? <p className="mt-1.5 text-xs text-danger">{scopeError}</p> : null}
      </fieldset>
      {create.error ? <Alert title="Could not create the key">{errorMessage(create.error)}</Alert> : null}
    </FormDialog>
  );
}

function RevokeDialog({ apiKey, onClose }: { apiKey: ApiKey | null; onClose(): void }) {
  const trpc = useTRPC();
  const queryClient = useQueryClient();
  const revoke = useMutation(
    trpc.apiKeys.revoke.mutationOptions({
      onSuccess: async () => {
        await queryClient.invalidateQueries({ queryKey: trpc.apiKeys.list.queryKey() });
        onClose();
      },
    }),
  );
  return (
    <Dialog
      open={apiKey !== null}
      onClose={() => {
        revoke.reset();
        onClose();
      }}
      title={`Revoke “${apiKey?.name ?? ""}”?`}
      description="Requests with this key are refused (401 Unauthorized) within seconds on every server. This cannot be undone."
      footer={
        <DialogActions
          onCancel={onClose}
          variant="danger"
          pending={revoke.isPending}
          onClick={() => apiKey && revoke.mutate({ id: apiKey.id })}
          data-testid="api-key-revoke-confirm"
        >
          Revoke key
        </DialogActions>
      }
    >
      {revoke.error ? <Alert title="Could not revoke the key">{errorMessage(revoke.error)}</Alert> : null}
    </Dialog>
  );
}

export function ApiKeysPanel() {
  const trpc = useTRPC();
  const me = useMe();
  const isAdmin = me.data?.isAdmin === true;
  const keys = useQuery({ ...trpc.apiKeys.list.queryOptions(), enabled: isAdmin });
  const [creating, setCreating] = useState(false);
  const [revoking, setRevoking] = useState<ApiKey | null>(null);

  if (me.isPending) return <Skeleton className="h-64 w-full" />;
  if (!isAdmin) {
    return (
      <Card>
        <CardHeader title="API keys" description="Keys that authenticate REST clients" />
        <EmptyState icon={ShieldAlert} title="Only administrators manage API keys">
          You are signed in as {me.data?.role ? <span className="font-medium capitalize">{me.data.role}</span> : "a non-admin"}. Ask an administrator to create or revoke keys for you.
        </EmptyState>
      </Card>
    );
  }

  return (
    <Card className="overflow-hidden">
      <CardHeader
        title="API keys"
        description="Keys that authenticate REST clients (Authorization: Bearer). Each key carries scopes."
        actions={
          <Button size="sm" onClick={() => setCreating(true)} data-testid="api-key-create">
            <Plus aria-hidden /> Create key
          </Button>
        }
      />
      <ListStates
        query={keys}
        errorTitle="Could not load API keys"
        empty={
          <EmptyState icon={KeyRound} title="No API keys yet" action={<Button size="sm" onClick={() => setCreating(true)}><Plus aria-hidden /> Create the first key</Button>}>
            Create a key for each service that publishes or reads events over the REST API.
          </EmptyState>
        }
      >
        {(rows) => (
          <Table data-testid="api-keys-table">
            <ListHead columns={["Name", "Key", "Scopes", "Created", "Last used", "Status"]} />
            <tbody>
              {rows.map((key) => (
                <tr
                  key={key.id}
                  className={cn("border-b border-border last:border-b-0", key.status === "revoked" && "text-muted-foreground [&_code]:line-through")}
                  data-testid="api-key-row"
                  data-key-name={key.name}
                >
                  <Td className="font-medium">
                    {key.name}
                    {key.createdBy ? <span className="block text-xs font-normal text-muted-foreground">by {key.createdBy}</span> : null}
                  </Td>
                  <Td>
                    <code className="rounded bg-muted px-1.5 py-0.5 font-mono text-xs">{key.prefix}…</code>
                  </Td>
                  <Td>
                    <div className="flex max-w-xs flex-wrap gap-1">
                      {key.scopes.map((scope) => (
                        <Badge key={scope} tone={scope === "admin" ? "warning" : "neutral"} className="font-mono">
                          {scope}
                        </Badge>
                      ))}
                    </div>
                  </Td>
                  <Td className="text-xs whitespace-nowrap text-muted-foreground">
                    <RelativeTime time={key.createdAt} />
                  </Td>
                  <Td className="text-xs whitespace-nowrap text-muted-foreground">{key.lastUsedAt ? <RelativeTime time={key.lastUsedAt} /> : "Never"}</Td>
                  <Td>
                    {key.status === "active" ? (
                      <Badge tone="success">Active</Badge>
                    ) : (
                      <Badge tone="neutral" title={key.revokedAt ?? undefined}>
                        Revoked
                      </Badge>
                    )}
                  </Td>
                  <Td className="text-right">
                    {key.status === "active" ? (
                      <Button variant="danger-ghost" size="xs" onClick={() => setRevoking(key)}>
                        Revoke
                      </Button>
                    ) : null}
                  </Td>
                </tr>
              ))}
            </tbody>
          </Table>
        )}
      </ListStates>
      <CreateKeyDialog open={creating} onClose={() => setCreating(false)} availableScopes={me.data?.availableScopes ?? []} />
      <RevokeDialog apiKey={revoking} onClose={() => setRevoking(null)} />
    </Card>
  );
}

function AccountCard() {
  const me = useMe();
  return (
    <Card>
      <CardHeader title="Your access" description="What the dashboard lets you do" />
      {me.data ? (
        <dl className="divide-y divide-border text-sm">
          <div className="flex items-center justify-between gap-4 px-5 py-3">
            <dt className="text-muted-foreground">Signed in as</dt>
            <dd className="truncate font-medium">{me.data.name}</dd>
          </div>
          <div className="flex items-center justify-between gap-4 px-5 py-3">
            <dt className="text-muted-foreground">Role</dt>
            <dd>
              <Badge tone="primary" className="capitalize">
                {me.data.role ?? me.data.kind.replace("_", " ")}
              </Badge>
            </dd>
          </div>
          <div className="flex items-start justify-between gap-4 px-5 py-3">
            <dt className="text-muted-foreground">Scopes</dt>
            <dd className="flex flex-wrap justify-end gap-1">
              {(me.data.isAdmin ? ["admin (all scopes)"] : me.data.scopes).map((scope) => (
                <Badge key={scope} className="font-mono">
                  {scope}
                </Badge>
              ))}
            </dd>
          </div>
        </dl>
      ) : (
        <div className="space-y-2 p-5">
          <Skeleton className="h-5 w-full" />
          <Skeleton className="h-5 w-2/3" />
        </div>
      )}
    </Card>
  );
}

function RestApiCard() {
  return (
    <Card>
      <CardHeader title="REST API" description="For services and scripts" />
      <div className="space-y-3 px-5 py-4 text-sm">
        <p className="text-muted-foreground">
          Send a key as <code className="rounded bg-muted px-1 py-0.5 font-mono text-xs text-foreground">Authorization: Bearer &lt;key&gt;</code>. Errors are RFC 9457 problem details.
        </p>
        <pre className="overflow-x-auto rounded-lg border border-border bg-muted/50 p-3 font-mono text-xs leading-5">
          {`curl -X POST /api/v1/events \\
  -H "Authorization: Bearer $KEY" \\
  -H "Content-Type: application/json" \\
  -d '{"type":"exam.created","data":{...}}'`}
        </pre>
        <a href="/api/v1/openapi.json" target="_blank" rel="noreferrer" className="inline-flex items-center gap-1 text-xs font-medium text-primary hover:underline">
          OpenAPI 3.1 document
        </a>
      </div>
    </Card>
  );
}

export function SettingsPage() {
  const me = useMe();
  return (
    <>
      <div className="mb-6">
        <h1 className="text-xl font-semibold tracking-tight">Settings</h1>
        <p className="mt-1 text-sm text-muted-foreground">Users, API keys and your own account.</p>
      </div>
      {me.data && !me.data.isAdmin ? (
        <Alert tone="info" className="mb-4" title="Read-only">
          <span className="inline-flex items-center gap-1.5">
            <TriangleAlert className="size-3.5" aria-hidden /> Users and API keys are managed by administrators.{me.data.kind === "user" ? " You can change your own password below." : null}
          </span>
        </Alert>
      ) : null}
      <ApiKeysPanel />
      <UsersPanel className="mt-6" />
      <div className="mt-6 grid items-start gap-6 lg:grid-cols-2">
        <div className="space-y-6">
          <AccountCard />
          <RestApiCard />
        </div>
        <ChangePasswordCard />
      </div>
    </>
  );
}
