// Types of bundle-steps.mjs, for the tests that build a bundle as scripts/build.mjs does.
export function shippedTomlTable(root: string): { table: Record<string, [number, string]>; left: string[] };
export function shippedTomlDefine(root: string): Record<string, string>;
export function shareToESM(file: string): void;
