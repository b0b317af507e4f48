"use client";

import { useQuery } from "@tanstack/react-query";
import { LoaderCircle } from "lucide-react";
import type { ComponentProps, FormEvent, InputHTMLAttributes, ReactNode } from "react";
import { useTRPC } from "../trpc";
import { Button, type ButtonProps } from "../ui/button";
import { Field, Input } from "../ui/form";
import { Dialog } from "../ui/overlay";
import { Th, THead } from "../ui/table";
import { issuesByPath, PasswordInput } from "./password-input";

/** The pieces the settings forms, dialogs and lists (API keys, users, own password) are made of. */

/** Mirrors the server's rule (server/api/trpc/routers/users.ts). */
export const MIN_PASSWORD_LENGTH = 12;

/** Who is signed in (a user or an API key), with their role and scopes. */
export function useMe() {
  const trpc = useTRPC();
  return useQuery(trpc.session.me.queryOptions(undefined, { staleTime: 60_000 }));
}

/**
 * A form's field errors: the client's `checks` (a message per field path, undefined where it is
 * fine) once a submit was `attempted`, else the issues the server's answer carries for the path.
 */
export function formErrors(checks: Record<string, string | undefined>, attempted: boolean, serverError: unknown) {
  const server = issuesByPath(serverError);
  return {
    fieldError: (path: string): string | undefined => (attempted ? checks[path] : undefined) ?? server[path],
    /** The server named a field: its message stands under the field rather than in an alert. */
    hasFieldIssue: Object.keys(server).length > 0,
    /** Every check passes. */
    valid: Object.values(checks).every((problem) => problem === undefined),
  };
}

/** A labelled input (a PasswordInput with `password`), marked invalid while it shows an error. */
export function InputField({
  label,
  id,
  error,
  hint,
  password = false,
  type,
  ...input
}: { label: ReactNode; id: string; error?: string; hint?: ReactNode; password?: boolean } & InputHTMLAttributes<HTMLInputElement>) {
  const control = { id, "aria-invalid": error ? true : undefined, ...input };
  return (
    <Field label={label} htmlFor={id} error={error} hint={hint}>
      {password ? <PasswordInput {...control} /> : <Input type={type} {...control} />}
    </Field>
  );
}

/** A checkbox or radio button as a bordered card: the control, then `children` as its text. */
export function ChoiceCard({ title, children, ...input }: { type: "checkbox" | "radio"; title?: string; children: ReactNode } & InputHTMLAttributes<HTMLInputElement>) {
  return (
    <label
      className="flex cursor-pointer items-start gap-2.5 rounded-lg border border-border px-3 py-2.5 transition-colors hover:bg-muted/60 has-checked:border-primary/50 has-checked:bg-accent/50"
      title={title}
    >
      <input className="mt-0.5 size-4 shrink-0 accent-(--primary)" {...input} />
      {children}
    </label>
  );
}

/** A button that shows a spinner, and cannot be pressed again, while its action is `pending`. */
export function PendingButton({ pending, children, ...props }: ButtonProps & { pending: boolean }) {
  return (
    <Button disabled={pending} {...props}>
      {pending ? <LoaderCircle className="animate-spin" aria-hidden /> : null}
      {children}
    </Button>
  );
}

/** A dialog footer: Cancel, then the dialog's action. */
export function DialogActions({ onCancel, ...action }: { onCancel(): void } & ButtonProps & { pending: boolean }) {
  return (
    <>
      <Button variant="outline" onClick={onCancel}>
        Cancel
      </Button>
      <PendingButton {...action} />
    </>
  );
}

/** A Dialog's props but its footer (the components below make it). */
type DialogProps = Omit<ComponentProps<typeof Dialog>, "footer" | "children"> & { children: ReactNode };

/** A dialog around a form, which the footer's action button submits (Cancel beside it closes the dialog). */
export function FormDialog({
  formId,
  formTestId,
  onSubmit,
  pending,
  submitLabel,
  submitTestId,
  children,
  ...dialog
}: DialogProps & { formId: string; formTestId?: string; onSubmit(event: FormEvent): void; pending: boolean; submitLabel: ReactNode; submitTestId: string }) {
  return (
    <Dialog
      {...dialog}
      footer={
        <DialogActions onCancel={dialog.onClose} type="submit" form={formId} pending={pending} data-testid={submitTestId}>
          {submitLabel}
        </DialogActions>
      }
    >
      <form id={formId} onSubmit={onSubmit} className="space-y-4" noValidate data-testid={formTestId}>
        {children}
      </form>
    </Dialog>
  );
}

/** What a create dialog turns into once it worked: what to take away now, and Done. */
export function DoneDialog({ doneTestId, children, ...dialog }: DialogProps & { doneTestId: string }) {
  return (
    <Dialog
      {...dialog}
      footer={
        <Button onClick={dialog.onClose} data-testid={doneTestId}>
          Done
        </Button>
      }
    >
      <div className="space-y-3">{children}</div>
    </Dialog>
  );
}

/** A list table's head: the columns, then an unnamed (to the eye) column of row actions. */
export function ListHead({ columns }: { columns: readonly string[] }) {
  return (
    <THead>
      <tr>
        {columns.map((column) => (
          <Th key={column}>{column}</Th>
        ))}
        <Th>
          <span className="sr-only">Actions</span>
        </Th>
      </tr>
    </THead>
  );
}
