// Every notification and modal message the extension shows goes through here (lint forbids calling
// vscode.window.show*Message elsewhere). Notification text is not plain text to VS Code: it makes links of
// `[label](command:…)` (opened with commands allowed) and icons of `$(name)`, and our messages carry
// agent-controlled text — a working directory, a command, a program chain, a path. The core's neutraliseLinks
// makes that text inert, here, once, whatever message it is in.
// A modal dialog's message and detail are set as plain text (innerText in VS Code's dialog; native dialogs
// have no links), so they pass unchanged: the Details dialog shows a command exactly as it would be pasted.
import * as vscode from 'vscode';
import { neutraliseLinks } from '../core/audit/display';

type Shower = <T extends string>(message: string, options: vscode.MessageOptions, ...items: T[]) => Thenable<T | undefined>;

function show<T extends string>(fn: Shower, message: string, rest: readonly (T | vscode.MessageOptions)[]): Thenable<T | undefined> {
  const first = rest[0];
  const options: vscode.MessageOptions = typeof first === 'object' ? first : {};
  const items = (typeof first === 'object' ? rest.slice(1) : rest) as T[];
  if (options.modal) return fn(message, options, ...items);
  return fn(neutraliseLinks(message), options, ...items);
}

/** vscode.window.showInformationMessage, agent text made inert. */
export function showInfo<T extends string>(message: string, ...rest: [vscode.MessageOptions, ...T[]] | T[]): Thenable<T | undefined> {
  return show(vscode.window.showInformationMessage, message, rest);
}

/** vscode.window.showWarningMessage, agent text made inert. */
export function showWarning<T extends string>(message: string, ...rest: [vscode.MessageOptions, ...T[]] | T[]): Thenable<T | undefined> {
  return show(vscode.window.showWarningMessage, message, rest);
}

/** vscode.window.showErrorMessage, agent text made inert. */
export function showError<T extends string>(message: string, ...rest: [vscode.MessageOptions, ...T[]] | T[]): Thenable<T | undefined> {
  return show(vscode.window.showErrorMessage, message, rest);
}

/** A quick pick item's visible texts, for quick picks that show agent-derived text ($(name) would be an icon). */
export function inertItem<I extends vscode.QuickPickItem>(item: I): I {
  return { ...item, label: neutraliseLinks(item.label), ...(item.description !== undefined ? { description: neutraliseLinks(item.description) } : {}), ...(item.detail !== undefined ? { detail: neutraliseLinks(item.detail) } : {}) };
}
