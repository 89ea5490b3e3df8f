// Modules the build makes (server/buildWorkbench.ts): operations as parsed
// documents, and the manifest's ids without the operation text.
declare module '*.graphql' {
  const document: import('graphql').DocumentNode;
  // eslint-disable-next-line no-restricted-syntax -- what the build plugin makes of a .graphql file
  export default document;
}

declare module 'virtual:persisted-ids' {
  const manifest: { operations: { id: string; name: string; type: string }[] };
  // eslint-disable-next-line no-restricted-syntax -- what the build plugin makes of the virtual module
  export default manifest;
}
