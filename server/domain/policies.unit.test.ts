import { describe, expect, it } from "vitest";
import { systemPrincipal, type Principal } from "@/server/engine/core/principal";
import { adminKey, analyst, operator, teacher } from "./domain.fixtures";
import { mayActOnExam } from "./policies";

describe("mayActOnExam", () => {
  const okafor = teacher("key-okafor");

  it("lets an API key act on the exams it created, and on none of another's", () => {
    expect(mayActOnExam(okafor, "key-okafor")).toEqual({ allowed: true });
    expect(mayActOnExam(okafor, "key-haddad")).toEqual({ allowed: false, reason: "This API key may only act on exams it created" });
  });

  it("lets an API key holding admin act on any exam", () => {
    expect(mayActOnExam(adminKey, "key-haddad").allowed).toBe(true);
  });

  it("lets operators and admins of the dashboard act on any exam, and not analysts", () => {
    const admin: Principal = { kind: "user", id: "user-ada", name: "ada@example.com", scopes: ["admin"], role: "admin" };
    expect(mayActOnExam(operator, "key-haddad").allowed).toBe(true);
    expect(mayActOnExam(admin, "key-haddad").allowed).toBe(true);
    expect(mayActOnExam(analyst, "key-haddad")).toEqual({ allowed: false, reason: "A dashboard analyst may not change exams; operators and admins may" });
    expect(mayActOnExam(analyst, undefined).allowed).toBe(false);
  });

  it("lets Eventloom itself act on any exam", () => {
    expect(mayActOnExam(systemPrincipal("reactions"), "key-haddad").allowed).toBe(true);
  });

  it("leaves an exam that does not exist to the decider's rules", () => {
    expect(mayActOnExam(okafor, undefined).allowed).toBe(true);
  });
});
