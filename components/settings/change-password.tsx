"use client";

import { useMutation, useQuery } from "@tanstack/react-query";
import { CircleCheck, LoaderCircle } from "lucide-react";
import { useState, type FormEvent } from "react";
import { useTRPC } from "../trpc";
import { Button } from "../ui/button";
import { Card, CardHeader } from "../ui/card";
import { Alert, errorMessage } from "../ui/error-state";
import { Field } from "../ui/form";
import { issuesByPath, PasswordInput } from "./password-input";

/** Mirrors the server's rule (server/api/trpc/routers/users.ts). */
const MIN_PASSWORD_LENGTH = 12;

/** Every signed-in user changes their own password here (API keys have none). */
export function ChangePasswordCard({ className }: { className?: string }) {
  const trpc = useTRPC();
  const me = useQuery(trpc.session.me.queryOptions(undefined, { staleTime: 60_000 }));
  const [current, setCurrent] = useState("");
  const [next, setNext] = useState("");
  const [confirm, setConfirm] = useState("");
  const [attempted, setAttempted] = useState(false);
  const change = useMutation(
    trpc.users.changeOwnPassword.mutationOptions({
      onSuccess() {
        setCurrent("");
        setNext("");
        setConfirm("");
        setAttempted(false);
      },
    }),
  );

  if (me.data && me.data.kind !== "user") return null;

  const clientErrors: Record<string, string | undefined> = attempted
    ? {
        currentPassword: !current ? "Enter your current password" : undefined,
        newPassword:
          next.length < MIN_PASSWORD_LENGTH ? `Use at least ${MIN_PASSWORD_LENGTH} characters` : next === current ? "Choose a password different from the current one" : undefined,
        confirm: confirm !== next ? "Does not match the new password" : undefined,
      }
    : {};
  const serverErrors = issuesByPath(change.error);
  const fieldError = (path: string) => clientErrors[path] ?? serverErrors[path];
  const hasFieldIssue = Object.keys(serverErrors).length > 0;

  function submit(event: FormEvent) {
    event.preventDefault();
    setAttempted(true);
    change.reset();
    if (!current || next.length < MIN_PASSWORD_LENGTH || next === current || confirm !== next) return;
    change.mutate({ currentPassword: current, newPassword: next });
  }

  function edit(setter: (value: string) => void) {
    return (value: string) => {
      setter(value);
      // A new edit makes an earlier success or server answer stale.
      if (change.isSuccess || change.isError) change.reset();
    };
  }

  return (
    <Card className={className} data-testid="change-password">
      <CardHeader title="Change password" description={me.data ? `For ${me.data.name}` : "For your account"} />
      <form onSubmit={submit} noValidate className="space-y-4 px-5 py-4">
        {/* Lets password managers tie the new password to this account. */}
        <input type="text" name="username" autoComplete="username" value={me.data?.name ?? ""} readOnly hidden />
        <Field label="Current password" htmlFor="current-password" error={fieldError("currentPassword")}>
          <PasswordInput
            id="current-password"
            autoComplete="current-password"
            value={current}
            onChange={(event) => edit(setCurrent)(event.target.value)}
            aria-invalid={fieldError("currentPassword") ? true : undefined}
          />
        </Field>
        <Field label="New password" htmlFor="new-password" error={fieldError("newPassword")} hint={`At least ${MIN_PASSWORD_LENGTH} characters.`}>
          <PasswordInput
            id="new-password"
            autoComplete="new-password"
            value={next}
            onChange={(event) => edit(setNext)(event.target.value)}
            aria-invalid={fieldError("newPassword") ? true : undefined}
          />
        </Field>
        <Field label="Confirm new password" htmlFor="confirm-password" error={fieldError("confirm")}>
          <PasswordInput
            id="confirm-password"
            autoComplete="new-password"
            value={confirm}
            onChange={(event) => edit(setConfirm)(event.target.value)}
            aria-invalid={fieldError("confirm") ? true : undefined}
          />
        </Field>
        {change.error && !hasFieldIssue ? <Alert title="Could not change the password">{errorMessage(change.error)}</Alert> : null}
        {change.isSuccess ? (
          <Alert tone="info">
            <span className="flex items-start gap-2" data-testid="change-password-success">
              <CircleCheck className="mt-0.5 size-4 shrink-0 text-success" aria-hidden />
              Password changed. Your other sessions were signed out; this one stays signed in.
            </span>
          </Alert>
        ) : null}
        <div className="flex justify-end">
          <Button type="submit" disabled={change.isPending} data-testid="change-password-submit">
            {change.isPending ? <LoaderCircle className="animate-spin" aria-hidden /> : null}
            Change password
          </Button>
        </div>
      </form>
    </Card>
  );
}
