import { ErrorCodes, ImportError } from '../errors/import-error.js';
import {
  defineImport,
  type ImportDefinition,
  type ImportDefinitionInput,
} from './import-definition.js';

/** The entities a host accepts, validated once when registered. */
export interface DefinitionRegistry {
  register(input: ImportDefinitionInput | ImportDefinition): ImportDefinition;
  /** The definition of `entity`; throws UNKNOWN_ENTITY when there is none. */
  get(entity: string): ImportDefinition;
  has(entity: string): boolean;
  list(): ImportDefinition[];
}

export function createDefinitionRegistry(
  inputs: Array<ImportDefinitionInput | ImportDefinition> = [],
): DefinitionRegistry {
  const byEntity = new Map<string, ImportDefinition>();

  const registry: DefinitionRegistry = {
    register(input) {
      // Re-validating an already-built definition is cheap and keeps one path.
      const definition = isBuilt(input) ? input : defineImport(input);
      refuseNestedSyncModes(definition);
      if (byEntity.has(definition.entity)) {
        throw new ImportError(
          ErrorCodes.INVALID_DEFINITION,
          `entity "${definition.entity}" is registered twice`,
        );
      }
      byEntity.set(definition.entity, definition);
      return definition;
    },
    get(entity) {
      const definition = byEntity.get(entity);
      if (!definition) {
        throw new ImportError(
          ErrorCodes.UNKNOWN_ENTITY,
          `unknown entity "${entity}"`,
          { details: { entity } },
        );
      }
      return definition;
    },
    has: (entity) => byEntity.has(entity),
    list: () => [...byEntity.values()],
  };

  for (const input of inputs) registry.register(input);
  return registry;
}

// A definition whose imports could never sync is refused up front.
function refuseNestedSyncModes(definition: ImportDefinition): void {
  const modes = new Set([definition.mode, ...(definition.allowedModes ?? [])]);
  if (!modes.has('sync') || (definition.children ?? []).length === 0) return;
  throw new ImportError(
    ErrorCodes.INVALID_DEFINITION,
    `entity "${definition.entity}" has child records, which a sync does ` +
      'not support yet: it cannot use or allow mode "sync"',
    { details: { entity: definition.entity } },
  );
}

function isBuilt(
  input: ImportDefinitionInput | ImportDefinition,
): input is ImportDefinition {
  return (
    Array.isArray(input.columns) &&
    input.columns.every((column) => 'sources' in column && 'isKey' in column)
  );
}
