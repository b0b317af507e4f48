"use client";

import { useMutation } from "@tanstack/react-query";
import { CircleCheck } from "lucide-react";
import { useState, type FormEvent } from "react";
import { useTRPC } from "../trpc";
import { Card, CardHeader } from "../ui/card";
import { Alert, errorMessage } from "../ui/error-state";
import { formErrors, InputField, MIN_PASSWORD_LENGTH, PendingButton, useMe } from "./parts";

/** Every signed-in user changes their own password here (API keys have none). */
export function ChangePasswordCard({ className }: { className?: string }) {
  const trpc = useTRPC();
  const me = useMe();
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

  const { fieldError, hasFieldIssue, valid } = formErrors(
    {
      currentPassword: !current ? "Enter your current password" : undefined,
      newPassword:
        next.length < MIN_PASSWORD_LENGTH ? `Use at least ${MIN_PASSWORD_LENGTH} characters` : next === current ? "Choose a password different from the current one" : undefined,
      confirm: confirm !== next ? "Does not match the new password" : undefined,
    },
    attempted,
    change.error,
  );

  function submit(event: FormEvent) {
    event.preventDefault();
    setAttempted(true);
    change.reset();
    if (!valid) return;
    change.mutate({ currentPassword: current, newPassword: next });
  }

  const fields = [
    { path: "currentPassword", id: "current-password", label: "Current password", autoComplete: "current-password", value: current, set: setCurrent },
    { path: "newPassword", id: "new-password", label: "New password", autoComplete: "new-password", value: next, set: setNext, hint: `At least ${MIN_PASSWORD_LENGTH} characters.` },
    { path: "confirm", id: "confirm-password", label: "Confirm new password", autoComplete: "new-password", value: confirm, set: setConfirm },
  ];

  return (
    <Card className={className} data-testid="change-password">
      <CardHeader title="Change password" description={me.data ? `For ${me.data.name}` : "For your account"} />
      <form onSubmit={submit} noValidate className="space-y-4 px-5 py-4">
        {/* Lets password managers tie the new password to this account. */}
        <input type="text" name="username" autoComplete="username" value={me.data?.name ?? ""} readOnly hidden />
        {fields.map(({ path, set, ...field }) => (
          <InputField
            key={path}
            password
            error={fieldError(path)}
            onChange={(event) => {
              set(event.target.value);
              // A new edit makes an earlier success or server answer stale.
              if (change.isSuccess || change.isError) change.reset();
            }}
            {...field}
          />
        ))}
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
          <PendingButton type="submit" pending={change.isPending} data-testid="change-password-submit">
            Change password
          </PendingButton>
        </div>
      </form>
    </Card>
  );
}
