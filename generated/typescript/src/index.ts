/**
 * `@users-api/client`: a typed client for users-api. The types are generated from the service's
 * OpenAPI document (`schema.ts`, by openapi-typescript) and the server's error codes
 * (`codes.ts`); requests go through openapi-fetch, so every path, parameter, body and response
 * is checked by the compiler. This file is the hand-written part, and stays thin: the client,
 * the error codes and the two request headers that need care. It never re-describes the API.
 *
 * @module
 */

import createClient, { type Client, type ClientOptions, mergeHeaders } from "openapi-fetch";

import { ERROR_CODES, type ErrorCode } from "./codes.js";
import type { components, paths } from "./schema.js";

export { ERROR_CODES, type ErrorCode } from "./codes.js";
export type { components, operations, paths } from "./schema.js";

/** The spec's named schemas, e.g. `Schemas["Me"]` or `Schemas["MePatch"]`. */
export type Schemas = components["schemas"];

/** The body of every error response: `{ success: false, error: { code, message, … } }`. */
export type ErrorEnvelope = Schemas["ErrorEnvelope"];

/** openapi-fetch's client for every operation: `GET`, `POST`, `PATCH`, `PUT`, `DELETE`. */
export type UsersApiClient = Client<paths>;

export interface UsersApiClientOptions extends Omit<ClientOptions, "baseUrl"> {
  /** Where the server answers, e.g. `https://users.example.com`; paths start with `/v1`. */
  baseUrl: string;
  /** A session token or an API key, sent as `Authorization: Bearer …`. Leave out to sign in. */
  token?: string | undefined;
}

/**
 * A client that sends `token` on every request. Other options (`fetch`, `headers`, …) are
 * openapi-fetch's.
 */
export function createUsersApiClient({
  token,
  headers,
  ...options
}: UsersApiClientOptions): UsersApiClient {
  const auth = token === undefined ? undefined : { Authorization: `Bearer ${token}` };
  return createClient<paths>({ ...options, headers: mergeHeaders(headers, auth) });
}

/** Whether `code` (an `error.code` or a field's `code`) is one this package knows. */
export function isErrorCode(code: string): code is ErrorCode {
  return (ERROR_CODES as readonly string[]).includes(code);
}

/**
 * The envelope's code to branch on, or `undefined` when the server sent a code newer than this
 * package: treat that one by the response's HTTP status.
 */
export function errorCode(envelope: ErrorEnvelope): ErrorCode | undefined {
  const { code } = envelope.error;
  return isErrorCode(code) ? code : undefined;
}

/**
 * `params.header` for a conditional `PATCH`: it applies only if the resource is still the
 * version read before, else the server answers 412 `PRECONDITION_FAILED` and changes nothing.
 * Pass that version's `ETag`, or the response that carried it (a `GET`, or the last `PATCH`).
 */
export function ifMatch(version: string | Response): { "If-Match": string } {
  const etag = typeof version === "string" ? version : version.headers.get("ETag");
  if (etag === null) {
    // Sending no If-Match would make the write unconditional: refuse instead.
    throw new Error("ifMatch: the response has no ETag");
  }
  return { "If-Match": etag };
}

/**
 * `params.header` for a create that is safe to retry: for 24 hours the server answers a request
 * with the same key and body with the first response (nothing is created twice), and one with
 * the same key and another body with 409 `IDEMPOTENCY_CONFLICT`. Make one key per intended
 * create (a random UUID by default) and send it again on every retry of that create.
 */
export function idempotencyKey(key: string = crypto.randomUUID()): { "Idempotency-Key": string } {
  return { "Idempotency-Key": key };
}
