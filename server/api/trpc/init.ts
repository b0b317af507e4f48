import { initTRPC, TRPCError, type TRPC_ERROR_CODE_KEY, type TRPC_ERROR_CODE_NUMBER } from "@trpc/server";
import { getHTTPStatusCodeFromError } from "@trpc/server/http";
import superjson from "superjson";
import { ZodError } from "zod";
import { isEngineError, type ErrorCode, type FieldIssue } from "@/server/engine/core/errors";
import { hasScope, type Principal, type Scope } from "@/server/engine/core/principal";
import { getContainer, type Container } from "@/server/runtime/container";
import { commandRejectionOf, type CommandRejection } from "../rejection";

/**
 * tRPC for the dashboard: the same engine as REST v1, reached with the session cookie (or an API
 * key). Layering: validate (zod input) -> authorize (procedures below) -> call engine -> map
 * errors (the errorFormatter, once).
 */
export interface TRPCContext {
  container: Container;
  principal: Principal | null;
  /**
   * The request's headers, for better-auth calls that act as the signed-in user (its admin and
   * password endpoints read the session cookie themselves). Absent for server-side callers.
   */
  headers?: Headers;
}

export async function createTRPCContext({ request }: { request: Request }): Promise<TRPCContext> {
  const container = await getContainer();
  const principal = await container.authServices.authenticate(request);
  return { container, principal, headers: request.headers };
}

const codeByEngineCode: Record<ErrorCode, TRPC_ERROR_CODE_KEY> = {
  validation: "BAD_REQUEST",
  not_found: "NOT_FOUND",
  conflict: "CONFLICT",
  forbidden: "FORBIDDEN",
  unauthorized: "UNAUTHORIZED",
  rate_limited: "TOO_MANY_REQUESTS",
  unavailable: "SERVICE_UNAVAILABLE",
  internal: "INTERNAL_SERVER_ERROR",
};

/** tRPC error code for an engine error code. */
export function trpcCodeOf(code: ErrorCode): TRPC_ERROR_CODE_KEY {
  return codeByEngineCode[code];
}

function issuesFromZod(error: ZodError): FieldIssue[] {
  return error.issues.map((issue) => ({
    path: issue.path.map((part, index) => (typeof part === "number" ? `[${part}]` : `${index > 0 ? "." : ""}${String(part)}`)).join(""),
    message: issue.message,
  }));
}

const t = initTRPC.context<TRPCContext>().create({
  transformer: superjson,
  errorFormatter({ shape, error }) {
    const cause = error.cause;
    let issues: FieldIssue[] | undefined;
    let engineCode: ErrorCode | undefined;
    let rejection: CommandRejection | undefined;
    let { code, data, message } = shape;
    if (isEngineError(cause)) {
      engineCode = cause.code;
      issues = cause.issues.length > 0 ? cause.issues : undefined;
      // The broken rule, or a conflict's versions, for the Commands console to show in place.
      rejection = commandRejectionOf(cause);
      // Errors raised before the procedure's own middleware (context creation) arrive as
      // INTERNAL_SERVER_ERROR: map them here too, so every path answers with the right status.
      const mapped = trpcCodeOf(cause.code);
      if (error.code === "INTERNAL_SERVER_ERROR" && mapped !== "INTERNAL_SERVER_ERROR") {
        data = { ...data, code: mapped, httpStatus: getHTTPStatusCodeFromError(new TRPCError({ code: mapped })) };
        code = jsonRpcCodes[mapped];
        message = cause.message;
      }
    } else if (cause instanceof ZodError) {
      issues = issuesFromZod(cause);
      message = issues.length === 1 ? `${issues[0]!.path || "input"}: ${issues[0]!.message}` : `${issues.length} invalid fields`;
    } else if (error.code === "INTERNAL_SERVER_ERROR" && process.env.NODE_ENV === "production") {
      // Never leak internals (stack, driver messages) to the browser.
      message = "Internal server error";
    }
    const { stack: _stack, ...safeData } = data as typeof data & { stack?: string };
    return {
      code,
      message,
      data: { ...safeData, ...(engineCode !== undefined ? { engineCode } : {}), ...(issues !== undefined ? { issues } : {}), ...(rejection !== undefined ? { rejection } : {}) },
    };
  },
});

// JSON-RPC numeric codes, as tRPC's default shape uses them.
const jsonRpcCodes: Record<TRPC_ERROR_CODE_KEY, TRPC_ERROR_CODE_NUMBER> = {
  PARSE_ERROR: -32700,
  BAD_REQUEST: -32600,
  INTERNAL_SERVER_ERROR: -32603,
  NOT_IMPLEMENTED: -32603,
  BAD_GATEWAY: -32603,
  SERVICE_UNAVAILABLE: -32603,
  GATEWAY_TIMEOUT: -32603,
  UNAUTHORIZED: -32001,
  PAYMENT_REQUIRED: -32002,
  FORBIDDEN: -32003,
  NOT_FOUND: -32004,
  METHOD_NOT_SUPPORTED: -32005,
  TIMEOUT: -32008,
  CONFLICT: -32009,
  PRECONDITION_FAILED: -32012,
  PAYLOAD_TOO_LARGE: -32013,
  UNSUPPORTED_MEDIA_TYPE: -32015,
  UNPROCESSABLE_CONTENT: -32022,
  PRECONDITION_REQUIRED: -32028,
  TOO_MANY_REQUESTS: -32029,
  CLIENT_CLOSED_REQUEST: -32099,
};

export const createTRPCRouter = t.router;
export const createCallerFactory = t.createCallerFactory;

/** Engine errors thrown by a resolver become TRPCErrors with the matching code (and HTTP status). */
const engineErrors = t.middleware(async ({ next }) => {
  const result = await next();
  if (!result.ok && isEngineError(result.error.cause) && result.error.code === "INTERNAL_SERVER_ERROR") {
    const engineError = result.error.cause;
    throw new TRPCError({ code: trpcCodeOf(engineError.code), message: engineError.message, cause: engineError });
  }
  return result;
});

export const publicProcedure = t.procedure.use(engineErrors);

export const authedProcedure = publicProcedure.use(({ ctx, next }) => {
  if (!ctx.principal) throw new TRPCError({ code: "UNAUTHORIZED", message: "Sign in to continue" });
  return next({ ctx: { ...ctx, principal: ctx.principal } });
});

/** A procedure that needs `scope` (admin holds every scope). */
export function scoped(scope: Scope) {
  return authedProcedure.use(({ ctx, next }) => {
    if (!hasScope(ctx.principal, scope)) {
      throw new TRPCError({ code: "FORBIDDEN", message: `This needs the "${scope}" permission` });
    }
    return next();
  });
}
