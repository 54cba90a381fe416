// A small typed client: each call sends only the document's id (`documentId`, the
// GraphQL-over-HTTP persisted-documents form), so a server that runs trusted documents
// only accepts it once `tessera persisted import src/gql/persisted-documents.json` has
// added the manifest.
import type { TypedDocumentString } from "./gql/graphql.js";

export class TesseraError extends Error {
  constructor(
    message: string,
    readonly code: string | undefined,
    readonly errors: unknown[],
  ) {
    super(message);
  }
}

export interface Limits {
  limit: number | undefined;
  remaining: number | undefined;
}

export class TesseraClient {
  token: string | undefined;
  /** The rate-limit headers of the last answer. */
  lastLimits: Limits = { limit: undefined, remaining: undefined };

  constructor(
    readonly url: string,
    token?: string,
  ) {
    this.token = token;
  }

  async execute<Result, Variables>(
    document: TypedDocumentString<Result, Variables>,
    ...[variables]: Variables extends Record<string, never> ? [] : [Variables]
  ): Promise<Result> {
    const hash = document.__meta__?.["hash"];
    if (typeof hash !== "string") {
      throw new Error("the document has no hash: run `npm run generate`");
    }
    const headers: Record<string, string> = {
      "content-type": "application/json",
      accept: "application/graphql-response+json",
    };
    if (this.token) {
      headers["authorization"] = `Bearer ${this.token}`;
    }
    const response = await fetch(this.url, {
      method: "POST",
      headers,
      // The generator's hashes already read `sha256:<hex>`.
      body: JSON.stringify({
        documentId: hash.startsWith("sha256:") ? hash : `sha256:${hash}`,
        variables: variables ?? {},
      }),
    });
    const number = (name: string) => {
      const value = response.headers.get(name);
      return value === null ? undefined : Number(value);
    };
    this.lastLimits = { limit: number("ratelimit-limit"), remaining: number("ratelimit-remaining") };
    const body = (await response.json()) as {
      data?: Result | null;
      errors?: { message: string; extensions?: { code?: string } }[];
    };
    if (body.errors?.length || body.data == null) {
      const first = body.errors?.[0];
      throw new TesseraError(first?.message ?? `HTTP ${response.status}`, first?.extensions?.code, body.errors ?? []);
    }
    return body.data;
  }
}
