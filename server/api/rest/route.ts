import type { z } from "zod";
import { hasScope, type Principal, type Scope } from "@/server/engine/core/principal";
import { getContainer, type Container } from "@/server/runtime/container";
import { logger } from "@/server/runtime/logger";
import { parseBody, parseQuery, readJsonBody } from "./http";
import { HttpProblem, problemFromError, problemResponse } from "./problem";

/**
 * The plumbing every REST v1 route shares: container, authentication, scope check, body and query
 * parsing, and one catch that turns anything thrown into problem+json. Route files in app/ only
 * parse, call and render.
 */

/** What Next.js passes as a route handler's second argument. */
export interface RouteSegment<P> {
  params: Promise<P>;
}

export type RouteHandler<P> = (request: Request, segment?: RouteSegment<P>) => Promise<Response>;

export interface PublicContext<P> {
  request: Request;
  url: URL;
  params: P;
  /** The process container; rejects with a 503 problem when it cannot start. */
  container: () => Promise<Container>;
}

export interface RestContext<P> {
  request: Request;
  url: URL;
  params: P;
  container: Container;
  principal: Principal;
  /** Reads and parses the JSON body (413/415/400), within MAX_BODY_BYTES. */
  readJson(mediaTypes: readonly string[]): Promise<{ mediaType: string; value: unknown }>;
  /** Parses the query string with `schema` (400 naming the parameter). */
  query<S extends z.ZodType>(schema: S, options?: { lists?: readonly string[] }): z.output<S>;
  /** Validates a parsed body (422 with every failing field). */
  body<S extends z.ZodType>(schema: S, value: unknown): z.output<S>;
}

export interface RestRouteOptions<P> {
  /** The scope the caller needs; omitted: any authenticated caller. */
  scope?: Scope;
  handler(context: RestContext<P>): Promise<Response>;
}

async function run<P>(request: Request, segment: RouteSegment<P> | undefined, work: (url: URL, params: P) => Promise<Response>): Promise<Response> {
  const url = new URL(request.url);
  try {
    const params = segment ? await segment.params : ({} as P);
    return await work(url, params);
  } catch (error) {
    return problemFromError(error, { method: request.method, path: url.pathname });
  }
}

/**
 * The process container. If it cannot be built (the database did not open, migrations failed) the
 * request gets a 503 with Retry-After: a dependency problem that a later attempt may not meet.
 */
async function container(): Promise<Container> {
  try {
    return await getContainer();
  } catch (error) {
    logger.error("container unavailable", { error });
    throw new HttpProblem("unavailable", "The service is starting or its database is unreachable; retry shortly.");
  }
}

/** A route anyone may call (only `GET /api/health`). */
export function publicRoute<P = Record<string, never>>(handler: (context: PublicContext<P>) => Promise<Response>): RouteHandler<P> {
  return (request, segment) => run(request, segment, (url, params) => handler({ request, url, params, container }));
}

/** A route that needs an API key (or dashboard session) and, optionally, a scope. */
export function restRoute<P = Record<string, never>>(options: RestRouteOptions<P>): RouteHandler<P> {
  return (request, segment) =>
    run(request, segment, async (url, params) => {
      const services = await container();
      const principal = await services.authServices.authenticate(request);
      if (!principal) {
        const detail = request.headers.has("authorization")
          ? "The API key is not valid (unknown or revoked)"
          : "Authentication required: send Authorization: Bearer <api key>";
        return problemResponse("unauthorized", detail);
      }
      if (options.scope && !hasScope(principal, options.scope)) {
        return problemResponse("forbidden", `This needs the ${options.scope} scope, which ${principal.name} does not have`);
      }

      return options.handler({
        request,
        url,
        params,
        container: services,
        principal,
        readJson: (mediaTypes) => readJsonBody(request, { maxBytes: services.env.MAX_BODY_BYTES, mediaTypes }),
        query: (schema, queryOptions) => parseQuery(schema, url, queryOptions),
        body: (schema, value) => parseBody(schema, value),
      });
    });
}

/** A JSON response; `no-store` because every answer reflects the live log. */
export function json(body: unknown, status = 200, headers?: HeadersInit): Response {
  const merged = new Headers(headers);
  merged.set("content-type", "application/json");
  merged.set("cache-control", "no-store");
  return new Response(JSON.stringify(body), { status, headers: merged });
}
