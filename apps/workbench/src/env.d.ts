// Modules the build makes (server/buildWorkbench.ts): operations as parsed
// documents, and the manifest's ids without the operation text.
declare module '*.graphql' {
  const document: import('graphql').DocumentNode;
  export default document;
}

declare module 'virtual:persisted-ids' {
  const manifest: { operations: { id: string; name: string; type: string }[] };
  export default manifest;
}
