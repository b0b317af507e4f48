import { allow, deny, type PolicyVerdict } from "@/server/engine/cqrs/command";
import { hasScope, type Principal } from "@/server/engine/core/principal";

/**
 * Who may act on an exam (and its sheets). The command bus has already checked the command's
 * scope (`commands:execute`); this is the owner rule on top:
 *
 * - Eventloom itself (system principals: reactions, demo) and holders of `admin` act on any exam.
 * - Dashboard users act on any exam as operators or admins; analysts only read.
 * - An API key acts only on exams it created ("a teacher key may only touch its own exams").
 *
 * `createdBy` is undefined when the exam (or sheet) does not exist yet: there is nothing to
 * protect, and the decider rejects the command by its own rule (e.g. `exam_not_found`).
 */
export function mayActOnExam(principal: Principal, createdBy: string | undefined): PolicyVerdict {
  if (principal.kind === "system" || hasScope(principal, "admin")) return allow;
  if (principal.kind === "user") {
    return principal.role === "operator" ? allow : deny(`A dashboard ${principal.role ?? "user"} may not change exams; operators and admins may`);
  }
  if (createdBy === undefined || createdBy === principal.id) return allow;
  return deny("This API key may only act on exams it created");
}
