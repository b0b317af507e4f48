"use client";

import { Eye, EyeOff } from "lucide-react";
import { forwardRef, useState, type InputHTMLAttributes } from "react";
import { cn } from "../ui/cn";
import { CopyButton } from "../ui/copy-button";
import { Input } from "../ui/form";

const iconButton =
  "inline-flex size-7 shrink-0 cursor-pointer items-center justify-center rounded-md text-muted-foreground transition-colors hover:bg-muted hover:text-foreground";

/**
 * A password field with a show/hide toggle (and a copy button with `copyable`). `visible` and
 * `onVisibleChange` make the toggle controlled, e.g. to reveal a generated password.
 */
export const PasswordInput = forwardRef<
  HTMLInputElement,
  Omit<InputHTMLAttributes<HTMLInputElement>, "type"> & { copyable?: boolean; visible?: boolean; onVisibleChange?(visible: boolean): void }
>(function PasswordInput({ copyable = false, visible: controlled, onVisibleChange, className, value, ...props }, ref) {
  const [own, setOwn] = useState(false);
  const visible = controlled ?? own;
  const toggle = () => (onVisibleChange ? onVisibleChange(!visible) : setOwn(!visible));
  return (
    <div className="relative">
      <Input
        ref={ref}
        type={visible ? "text" : "password"}
        value={value}
        spellCheck={false}
        autoCapitalize="off"
        className={cn(copyable ? "pr-17" : "pr-10", visible && "font-mono", className)}
        {...props}
      />
      <div className="absolute inset-y-0 right-1 flex items-center gap-0.5">
        <button type="button" onClick={toggle} className={iconButton} aria-label={visible ? "Hide password" : "Show password"} title={visible ? "Hide password" : "Show password"}>
          {visible ? <EyeOff className="size-3.5" aria-hidden /> : <Eye className="size-3.5" aria-hidden />}
        </button>
        {copyable ? <CopyButton value={String(value ?? "")} label="Copy password" className="size-7" /> : null}
      </div>
    </div>
  );
});

const alphabet = "abcdefghijkmnopqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789";

/** A random password of `length` characters without look-alikes (l, 1, I, O, 0). */
export function generatePassword(length = 20): string {
  const bytes = new Uint8Array(length * 2);
  crypto.getRandomValues(bytes);
  let password = "";
  // Rejection sampling keeps every character equally likely.
  const limit = 256 - (256 % alphabet.length);
  for (const byte of bytes) {
    if (byte >= limit) continue;
    password += alphabet[byte % alphabet.length];
    if (password.length === length) return password;
  }
  return password + generatePassword(length - password.length);
}

/** Field issues a tRPC error carries (the errorFormatter puts them in `data.issues`), by path. */
export function issuesByPath(error: unknown): Record<string, string> {
  const issues = (error as { data?: { issues?: Array<{ path: string; message: string }> } } | null)?.data?.issues ?? [];
  const byPath: Record<string, string> = {};
  for (const issue of issues) byPath[issue.path] ??= issue.message;
  return byPath;
}
