// Every command msctl has, in the order help lists them.
import type { Command } from './command.ts';
import { apiCreate } from './api-create.ts';
import { apiDelete } from './api-delete.ts';
import { apiExport } from './api-export.ts';
import { apiGet } from './api-get.ts';
import { apiImport } from './api-import.ts';
import { apiList } from './api-list.ts';
import { apiUpdate } from './api-update.ts';
import { configSet } from './config-set.ts';
import { configShow } from './config-show.ts';
import { sessionsList, sessionsRevoke } from './sessions.ts';
import { secretsReseal, secretsStatus } from './secrets.ts';
import { assertionKeysList, assertionKeysRotate } from './assertion-keys.ts';
import { logs } from './logs.ts';
import { flows } from './flows.ts';

export const commands: readonly Command[] = [
  apiCreate,
  apiGet,
  apiList,
  apiUpdate,
  apiDelete,
  apiImport,
  apiExport,
  logs,
  flows,
  configShow,
  configSet,
  sessionsList,
  sessionsRevoke,
  secretsStatus,
  secretsReseal,
  assertionKeysList,
  assertionKeysRotate,
];

export const groups: Readonly<Record<string, string>> = {
  api: 'create, read, update and delete policy objects',
  config: 'the config file: which API, which token, which namespace',
  sessions: 'who is signed in; end sessions at once',
  secrets: 'secrets at rest: which cannot be decrypted, and sealing them again with the current key',
  'assertion-keys': 'the keys that sign identity assertions: list them, rotate them',
};
