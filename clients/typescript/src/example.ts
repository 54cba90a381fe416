// `node dist/example.js <graphql url>`: signs up a tenant, reads who is signed in and
// the first page of members, and creates a workspace, every request by documentId.
import { TesseraClient, TesseraError } from "./client.js";
import { CreateWorkspace, Me, Members, SignUp } from "./operations.js";

async function main(url: string): Promise<void> {
  const client = new TesseraClient(url);
  const suffix = Math.random().toString(36).slice(2, 10);
  const signedUp = await client.execute(SignUp, {
    input: {
      email: `owner-${suffix}@client.example`,
      password: "a client example password",
      displayName: "Client Example",
      tenantName: `Client ${suffix}`,
    },
  });
  client.token = signedUp.signUp.accessToken;

  const me = await client.execute(Me);
  const members = await client.execute(Members, { first: 10 });
  const workspace = await client.execute(CreateWorkspace, {
    input: { name: "Typed", slug: `typed-${suffix}` },
  });
  console.log(
    JSON.stringify({
      email: me.me.email,
      tenant: me.currentTenant.slug,
      plan: me.currentTenant.plan.key,
      members: members.members.totalCount,
      workspace: workspace.createWorkspace.slug,
      rateLimitRemaining: client.lastLimits.remaining,
    }),
  );
}

const url = process.argv[2];
if (!url) {
  console.error("usage: node dist/example.js <graphql url>");
  process.exit(2);
}
main(url).catch((error: unknown) => {
  if (error instanceof TesseraError) {
    console.error(`${error.code ?? "ERROR"}: ${error.message}`);
  } else {
    console.error(error);
  }
  process.exit(1);
});
