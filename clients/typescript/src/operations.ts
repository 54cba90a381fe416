// The operations this client sends. `npm run generate` types each one from
// schema.graphql and lists it, by SHA-256, in src/gql/persisted-documents.json.
import { graphql } from "./gql/index.js";

export const SignUp = graphql(`
  mutation SignUp($input: SignUpInput!) {
    signUp(input: $input) {
      accessToken
      expiresAt
      tenant {
        id
        slug
      }
    }
  }
`);

export const Me = graphql(`
  query Me {
    me {
      id
      email
      displayName
    }
    currentTenant {
      id
      name
      slug
      status
      plan {
        key
        name
      }
    }
  }
`);

export const Members = graphql(`
  query Members($first: Int!, $after: String) {
    members(first: $first, after: $after) {
      totalCount
      pageInfo {
        hasNextPage
        endCursor
      }
      nodes {
        role {
          name
        }
        user {
          email
          displayName
        }
      }
    }
  }
`);

export const CreateWorkspace = graphql(`
  mutation CreateWorkspace($input: CreateWorkspaceInput!) {
    createWorkspace(input: $input) {
      id
      name
      slug
    }
  }
`);
