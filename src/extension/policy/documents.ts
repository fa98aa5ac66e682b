// Which documents are policies, and conversions between core's 1-based ranges and VS Code's.
import * as path from 'node:path';
import * as vscode from 'vscode';
import type { SourceRange } from '../../core/policy/index';

/** `.gate.toml` and `*.gate.toml`, whatever language the document has (a TOML extension, ours, or none). */
export const POLICY_SELECTOR: vscode.DocumentSelector = [{ pattern: '**/.gate.toml' }, { pattern: '**/*.gate.toml' }];

export function isPolicyName(fileName: string): boolean {
  const base = path.basename(fileName);
  return base === '.gate.toml' || base.endsWith('.gate.toml');
}

/** A policy we check: on disk or not yet saved (diff views and other virtual copies are left alone). */
export function isCheckedPolicy(doc: vscode.TextDocument): boolean {
  return (doc.uri.scheme === 'file' || doc.uri.scheme === 'untitled') && isPolicyName(doc.uri.path);
}

export function toRange(r: SourceRange): vscode.Range {
  return new vscode.Range(r.line - 1, r.column - 1, r.endLine - 1, r.endColumn - 1);
}

/** 1-based line and column of a VS Code position, as core takes them. */
export function lineColumn(p: vscode.Position): [number, number] {
  return [p.line + 1, p.character + 1];
}

/** The workspace folder of a document, else its directory: the cwd `explain` runs a command in. */
export function workspaceDirOf(uri: vscode.Uri): string {
  return vscode.workspace.getWorkspaceFolder(uri)?.uri.fsPath ?? path.dirname(uri.fsPath);
}
