"use client";

import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { RefreshCw, UserPlus, Users } from "lucide-react";
import { useState, type FormEvent } from "react";
import { useTRPC, type RouterInputs, type RouterOutputs } from "../trpc";
import { Badge, type BadgeTone } from "../ui/badge";
import { Button } from "../ui/button";
import { Card, CardHeader } from "../ui/card";
import { cn } from "../ui/cn";
import { CopyButton } from "../ui/copy-button";
import { EmptyState } from "../ui/empty-state";
import { Alert, errorMessage } from "../ui/error-state";
import { Label, Select } from "../ui/form";
import { Dialog } from "../ui/overlay";
import { ListStates } from "../ui/query-states";
import { RelativeTime } from "../ui/relative-time";
import { Skeleton } from "../ui/spinner";
import { Table, Td } from "../ui/table";
import { ChoiceCard, DialogActions, DoneDialog, FormDialog, formErrors, InputField, ListHead, MIN_PASSWORD_LENGTH, useMe } from "./parts";
import { generatePassword, PasswordInput } from "./password-input";
import { describeRole, type RoleScopes } from "./scopes";

type User = RouterOutputs["users"]["list"][number];
type Role = RouterInputs["users"]["create"]["role"];

const DEFAULT_ROLE: Role = "analyst";

const roleTone: Record<string, BadgeTone> = { admin: "warning", operator: "primary", analyst: "neutral" };

function RoleBadge({ role }: { role: string | null }) {
  return (
    <Badge tone={role ? (roleTone[role] ?? "neutral") : "danger"} className="capitalize">
      {role ?? "no role"}
    </Badge>
  );
}

function useRoles(enabled = true) {
  const trpc = useTRPC();
  return useQuery(trpc.users.roles.queryOptions(undefined, { staleTime: Infinity, enabled }));
}

function RolePicker({ roles, value, onChange }: { roles: RoleScopes[]; value: Role; onChange(role: Role): void }) {
  return (
    <fieldset>
      <legend className="text-xs font-medium text-muted-foreground">Role</legend>
      <div className="mt-1.5 space-y-2">
        {roles.map((role) => (
          <ChoiceCard
            key={role.role}
            title={role.scopes.join(", ")}
            type="radio"
            name="new-user-role"
            value={role.role}
            checked={value === role.role}
            onChange={() => onChange(role.role as Role)}
            aria-labelledby={`role-${role.role}-name`}
            aria-describedby={`role-${role.role}-help`}
          >
            <span className="min-w-0">
              <span id={`role-${role.role}-name`} className="block text-sm font-medium capitalize">
                {role.role}
              </span>
              <span id={`role-${role.role}-help`} className="block text-xs text-muted-foreground">
                {describeRole(role, roles)}
              </span>
            </span>
          </ChoiceCard>
        ))}
      </div>
    </fieldset>
  );
}

function AddUserDialog({ open, onClose }: { open: boolean; onClose(): void }) {
  const trpc = useTRPC();
  const queryClient = useQueryClient();
  const roles = useRoles();
  const [email, setEmail] = useState("");
  const [name, setName] = useState("");
  const [password, setPassword] = useState(() => generatePassword());
  const [showPassword, setShowPassword] = useState(false);
  const [role, setRole] = useState<Role>(DEFAULT_ROLE);
  const [attempted, setAttempted] = useState(false);
  const create = useMutation(
    trpc.users.create.mutationOptions({
      onSuccess: () => queryClient.invalidateQueries({ queryKey: trpc.users.list.queryKey() }),
    }),
  );

  function close() {
    setEmail("");
    setName("");
    setPassword(generatePassword());
    setShowPassword(false);
    setRole(DEFAULT_ROLE);
    setAttempted(false);
    create.reset();
    onClose();
  }

  const { fieldError, hasFieldIssue, valid } = formErrors(
    {
      email: !email.trim() ? "Enter their email address" : !/^[^\s@]+@[^\s@]+\.[^\s@]+$/.test(email.trim()) ? "Enter a valid email address" : undefined,
      name: !name.trim() ? "Give the user a name" : undefined,
      password: password.length < MIN_PASSWORD_LENGTH ? `Use at least ${MIN_PASSWORD_LENGTH} characters` : undefined,
    },
    attempted,
    create.error,
  );

  function submit(event: FormEvent) {
    event.preventDefault();
    setAttempted(true);
    if (!valid) return;
    create.mutate({ email: email.trim(), name: name.trim(), password, role });
  }

  if (create.data) {
    const user = create.data;
    const details = `Eventloom sign-in\nURL: ${window.location.origin}/login\nEmail: ${user.email}\nPassword: ${password}`;
    return (
      <DoneDialog
        open={open}
        onClose={close}
        title="User added"
        description={`${user.name} can sign in now as ${user.role ?? "a user without a role"}.`}
        doneTestId="user-add-done"
      >
        <div className="rounded-lg border border-border bg-muted/60 p-3">
          <div className="flex items-start gap-2">
            <dl className="grid min-w-0 flex-1 grid-cols-[auto_1fr] gap-x-3 gap-y-1 text-sm">
              <dt className="text-muted-foreground">Email</dt>
              <dd className="truncate font-medium" data-testid="user-added-email">
                {user.email}
              </dd>
              <dt className="text-muted-foreground">Password</dt>
              <dd className="font-mono break-all" data-testid="user-added-password">
                {password}
              </dd>
            </dl>
            <CopyButton value={details} label="Copy sign-in details" className="size-8" />
          </div>
        </div>
        <Alert tone="warning">Send these details privately. They should change the password after signing in, under Settings.</Alert>
      </DoneDialog>
    );
  }

  return (
    <FormDialog
      open={open}
      onClose={close}
      title="Add user"
      className="max-h-[calc(100dvh-2rem)] overflow-y-auto"
      description="Dashboard users sign in with email and password. Give each person only the role they need."
      formId="add-user-form"
      formTestId="add-user-form"
      onSubmit={submit}
      pending={create.isPending}
      submitLabel="Add user"
      submitTestId="user-add-submit"
    >
      <div className="grid gap-4 sm:grid-cols-2">
        <InputField
          label="Email"
          id="new-user-email"
          error={fieldError("email")}
          type="email"
          autoComplete="off"
          value={email}
          onChange={(event) => setEmail(event.target.value)}
          autoFocus
        />
        <InputField
          label="Name"
          id="new-user-name"
          error={fieldError("name")}
          autoComplete="off"
          value={name}
          maxLength={100}
          onChange={(event) => setName(event.target.value)}
        />
      </div>
      <div className="flex flex-col gap-1.5">
        <div className="flex items-center justify-between">
          <Label htmlFor="new-user-password">Password</Label>
          <button
            type="button"
            className="inline-flex cursor-pointer items-center gap-1 text-xs font-medium text-primary hover:underline"
            onClick={() => {
              setPassword(generatePassword());
              setShowPassword(true);
            }}
          >
            <RefreshCw className="size-3" aria-hidden /> Generate new
          </button>
        </div>
        <PasswordInput
          id="new-user-password"
          autoComplete="new-password"
          copyable
          value={password}
          visible={showPassword}
          onVisibleChange={setShowPassword}
          onChange={(event) => setPassword(event.target.value)}
          aria-invalid={fieldError("password") ? true : undefined}
          aria-describedby="new-user-password-help"
        />
        <p id="new-user-password-help" className={cn("text-xs", fieldError("password") ? "text-danger" : "text-muted-foreground")}>
          {fieldError("password") ?? `Generated for you, or type your own: at least ${MIN_PASSWORD_LENGTH} characters.`}
        </p>
      </div>
      {roles.data ? (
        <RolePicker roles={roles.data} value={role} onChange={setRole} />
      ) : roles.isError ? (
        <Alert title="Could not load the roles">{errorMessage(roles.error)}</Alert>
      ) : (
        <Skeleton className="h-40 w-full" />
      )}
      {create.error && !hasFieldIssue ? <Alert title="Could not add the user">{errorMessage(create.error)}</Alert> : null}
    </FormDialog>
  );
}

type Pending = { kind: "role"; user: User; role: Role } | { kind: "remove"; user: User };

function ConfirmDialog({ pending, onClose }: { pending: Pending | null; onClose(): void }) {
  const trpc = useTRPC();
  const queryClient = useQueryClient();
  const roles = useRoles();
  const done = {
    onSuccess: async () => {
      await queryClient.invalidateQueries({ queryKey: trpc.users.list.queryKey() });
      onClose();
    },
  };
  const setRole = useMutation(trpc.users.setRole.mutationOptions(done));
  const remove = useMutation(trpc.users.remove.mutationOptions(done));
  const mutation = pending?.kind === "remove" ? remove : setRole;

  function close() {
    setRole.reset();
    remove.reset();
    onClose();
  }

  if (!pending) return null;
  const who = pending.user.name || pending.user.email;
  const newRole = pending.kind === "role" ? roles.data?.find((role) => role.role === pending.role) : undefined;
  return (
    <Dialog
      open
      onClose={close}
      title={pending.kind === "role" ? `Make ${who} ${article(pending.role)} ${pending.role}?` : `Remove ${who}?`}
      description={
        pending.kind === "role"
          ? `${pending.user.email} changes from ${pending.user.role ?? "no role"} to ${pending.role}, from their next request on.`
          : `${pending.user.email} is signed out everywhere and can no longer sign in. Events they published stay in the log. This cannot be undone.`
      }
      footer={
        <DialogActions
          onCancel={close}
          variant={pending.kind === "remove" ? "danger" : "primary"}
          pending={mutation.isPending}
          data-testid="user-confirm"
          onClick={() => (pending.kind === "remove" ? remove.mutate({ userId: pending.user.id }) : setRole.mutate({ userId: pending.user.id, role: pending.role }))}
        >
          {pending.kind === "remove" ? "Remove user" : `Make ${pending.role}`}
        </DialogActions>
      }
    >
      {newRole && roles.data ? (
        <p className="rounded-lg border border-border bg-muted/50 px-3 py-2 text-sm">
          <span className="font-medium capitalize">{newRole.role}</span>
          <span className="text-muted-foreground">: {describeRole(newRole, roles.data)}</span>
        </p>
      ) : null}
      {pending.kind === "role" && pending.user.role === "admin" ? (
        <Alert tone="warning" className="mt-3">
          They lose access to users, API keys and replays.
        </Alert>
      ) : null}
      {mutation.error ? (
        <Alert title={pending.kind === "remove" ? "Could not remove the user" : "Could not change the role"} className={newRole ? "mt-3" : undefined}>
          {errorMessage(mutation.error)}
        </Alert>
      ) : null}
    </Dialog>
  );
}

function article(word: string): string {
  return /^[aeiou]/i.test(word) ? "an" : "a";
}

/** Dashboard users and their roles, for admins. */
export function UsersPanel({ className }: { className?: string }) {
  const trpc = useTRPC();
  const me = useMe();
  const isAdmin = me.data?.isAdmin === true;
  const users = useQuery({ ...trpc.users.list.queryOptions(), enabled: isAdmin && me.data?.kind === "user" });
  const roles = useRoles(isAdmin && me.data?.kind === "user");
  const [adding, setAdding] = useState(false);
  const [pending, setPending] = useState<Pending | null>(null);

  if (!isAdmin) return null;
  if (me.data?.kind !== "user") {
    return (
      <Card className={className}>
        <CardHeader title="Users" description="People who sign in to this dashboard" />
        <EmptyState icon={Users} title="Sign in as an admin user to manage users">
          You are using an API key. Users are managed from a signed-in admin&apos;s session.
        </EmptyState>
      </Card>
    );
  }

  const roleNames = (roles.data ?? []).map((role) => role.role as Role);
  return (
    <Card className={cn("overflow-hidden", className)} data-testid="users-panel">
      <CardHeader
        title="Users"
        description="People who sign in to this dashboard. Their role decides what they may do."
        actions={
          <Button size="sm" onClick={() => setAdding(true)} data-testid="user-add">
            <UserPlus aria-hidden /> Add user
          </Button>
        }
      />
      <ListStates query={users} errorTitle="Could not load users" empty={<EmptyState icon={Users} title="No users yet" />}>
        {(rows) => (
          <Table data-testid="users-table">
            <ListHead columns={["Email", "Name", "Role", "Created", "Status"]} />
            <tbody>
              {rows.map((user) => {
                const isSelf = user.id === me.data?.id;
                return (
                  <tr key={user.id} className="border-b border-border last:border-b-0" data-testid="user-row" data-user-email={user.email}>
                    <Td className="font-medium whitespace-nowrap">
                      <span className="inline-flex items-center gap-2">
                        {user.email}
                        {isSelf ? <Badge tone="primary">You</Badge> : null}
                      </span>
                    </Td>
                    <Td className="text-muted-foreground">{user.name}</Td>
                    <Td>
                      <RoleBadge role={user.role} />
                    </Td>
                    <Td className="text-xs whitespace-nowrap text-muted-foreground">
                      <RelativeTime time={user.createdAt} />
                    </Td>
                    <Td>{user.banned ? <Badge tone="danger">Banned</Badge> : <Badge tone="success">Active</Badge>}</Td>
                    <Td className="text-right">
                      {isSelf ? (
                        <span className="cursor-help text-xs text-muted-foreground" title="You cannot change your own role or remove yourself; another admin can.">
                          —
                        </span>
                      ) : (
                        <div className="inline-flex items-center gap-1.5">
                          <Select
                            aria-label={`Change role of ${user.email}`}
                            className="h-7! w-auto py-0 pl-2 text-xs"
                            value=""
                            onChange={(event) => {
                              const role = event.target.value as Role;
                              if (role) setPending({ kind: "role", user, role });
                            }}
                          >
                            <option value="">Change role…</option>
                            {roleNames
                              .filter((role) => role !== user.role)
                              .map((role) => (
                                <option key={role} value={role}>
                                  Make {role}
                                </option>
                              ))}
                          </Select>
                          <Button variant="danger-ghost" size="xs" onClick={() => setPending({ kind: "remove", user })} aria-label={`Remove ${user.email}`}>
                            Remove
                          </Button>
                        </div>
                      )}
                    </Td>
                  </tr>
                );
              })}
            </tbody>
          </Table>
        )}
      </ListStates>
      <AddUserDialog open={adding} onClose={() => setAdding(false)} />
      <ConfirmDialog pending={pending} onClose={() => setPending(null)} />
    </Card>
  );
}
