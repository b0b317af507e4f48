import { v7 as uuidv7, validate as validateUuid } from "uuid";

/** Time-ordered UUIDv7: sortable by creation time, index-friendly. */
export function newId(): string {
  return uuidv7();
}

export function isUuid(value: string): boolean {
  return validateUuid(value);
}
