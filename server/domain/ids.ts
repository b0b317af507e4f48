import { z } from "zod";

/**
 * An id given by a client: any UUID, read in lower case. Ids name streams (`exam-<id>`) and key
 * read-model rows, and Postgres hands uuid columns back in lower case: an id kept as the client
 * wrote it would name another stream than its lower-case twin and miss its own row.
 */
export const clientUuid = z.uuid().transform((id) => id.toLowerCase());
