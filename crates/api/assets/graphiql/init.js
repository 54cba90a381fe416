// Boots GraphiQL for Tessera. Loaded as a same-origin file (not inline) so the
// page keeps working under a strict `script-src 'self'` policy.
//
// Expects the UMD globals React, ReactDOM (React 18) and GraphiQL (graphiql
// 3.x) to have been defined by the scripts loaded before this one.
(function () {
  'use strict';

  var root = document.getElementById('graphiql');

  // Full-page layout. Set through the DOM instead of a <style> block or
  // style attributes, both of which a strict style-src policy would block.
  document.documentElement.style.height = '100%';
  document.body.style.height = '100%';
  document.body.style.margin = '0';
  document.body.style.overflow = 'hidden';
  root.style.height = '100vh';

  if (
    typeof window.React === 'undefined' ||
    typeof window.ReactDOM === 'undefined' ||
    typeof window.GraphiQL === 'undefined'
  ) {
    root.textContent =
      'GraphiQL could not start: one of its bundled scripts failed to load.';
    return;
  }

  var defaultQuery = [
    '# Welcome to the Tessera GraphQL API.',
    '#',
    '# Most operations need a signed-in user. To get an access token:',
    '#',
    '#   1. Run the `signUp` mutation (new account) or the `logIn` mutation',
    '#      (existing account). Open the Docs panel on the left to see the',
    '#      exact arguments each one takes.',
    '#   2. Copy the `accessToken` value from the response.',
    '#   3. Open the Headers tab below the editor and enter:',
    '#',
    '#        {"Authorization": "Bearer <token>"}',
    '#',
    '#      replacing <token> with the value you copied.',
    '#',
    '# Headers are kept in this browser\'s local storage between visits, so',
    '# clear them when you are done on a shared machine. Access tokens are',
    '# short-lived; when requests start failing with an authentication error,',
    '# log in again and paste the new token.',
    '',
    '{',
    '  __typename',
    '}',
    '',
  ].join('\n');

  // Queries and mutations over HTTP; subscriptions over the WebSocket endpoint, whose
  // `connection_init` carries the headers set in the Headers tab (the Authorization
  // header signs the socket in).
  var socketScheme = window.location.protocol === 'https:' ? 'wss://' : 'ws://';
  var fetcher = window.GraphiQL.createFetcher({
    url: '/graphql',
    subscriptionUrl: socketScheme + window.location.host + '/graphql/ws',
  });

  window.ReactDOM.createRoot(root).render(
    window.React.createElement(window.GraphiQL, {
      fetcher: fetcher,
      defaultQuery: defaultQuery,
      // graphiql 3.x name of the old `headerEditorEnabled` prop.
      isHeadersEditorEnabled: true,
      shouldPersistHeaders: true,
      defaultEditorToolsVisibility: 'headers',
    })
  );
})();
