import { z } from 'zod';
import { openApiPath, routes, type RouteDefinition } from './routes.js';
import { contractSchemas } from './schemas.js';

/**
 * The OpenAPI 3.1 document of the HTTP API, generated from the route table
 * with zod's own JSON Schema output (OpenAPI 3.1 speaks JSON Schema
 * 2020-12, zod's default target). Named schemas become components.
 */
export interface OpenApiOptions {
  title?: string;
  version?: string;
  /** Where the router is mounted, as `servers[0].url`. */
  serverUrl?: string;
}

type JsonObject = Record<string, unknown>;

const componentPrefix = '#/components/schemas/';

export function buildOpenApiDocument(options: OpenApiOptions = {}): JsonObject {
  const paths: Record<string, Record<string, JsonObject>> = {};
  for (const route of Object.values(routes) as RouteDefinition[]) {
    const path = openApiPath(route.path);
    paths[path] ??= {};
    paths[path][route.method] = operationOf(route);
  }

  return {
    openapi: '3.1.0',
    info: {
      title: options.title ?? 'erp-import',
      version: options.version ?? '0.0.0',
      description:
        'Upload ERP exports, follow their imports and read the rows they ' +
        'rejected. Errors are application/problem+json.',
    },
    ...(options.serverUrl !== undefined && {
      servers: [{ url: options.serverUrl }],
    }),
    security: [{ bearer: [] }],
    paths,
    components: {
      schemas: componentSchemas(),
      securitySchemes: {
        bearer: {
          type: 'http',
          scheme: 'bearer',
          description: 'A token the host turns into a tenant.',
        },
      },
    },
  };
}

function operationOf(route: RouteDefinition): JsonObject {
  const parameters = [
    ...parametersOf(route.params, 'path'),
    ...parametersOf(route.query, 'query'),
    ...parametersOf(route.headers, 'header'),
  ];

  const responses: JsonObject = {};
  for (const [status, response] of Object.entries(route.responses)) {
    const types = response.contentTypes ?? ['application/json'];
    const content: JsonObject = {};
    for (const type of types) {
      const isJson = type.endsWith('json');
      content[type] = {
        schema:
          isJson && response.schema
            ? schemaOrRef(response.schema, 'output')
            : isJson
              ? { type: 'object' }
              : { type: 'string' },
      };
    }
    responses[status] = {
      description: response.description,
      content,
      ...(response.headers && {
        headers: Object.fromEntries(
          Object.entries(response.headers).map(([name, description]) => [
            name,
            { description, schema: { type: 'string' } },
          ]),
        ),
      }),
    };
  }

  return {
    operationId: route.operationId,
    summary: route.summary,
    ...(!route.authenticated && { security: [] }),
    ...(parameters.length > 0 && { parameters }),
    ...(route.rawBody && {
      requestBody: {
        required: true,
        description: route.rawBody.description,
        content: Object.fromEntries(
          route.rawBody.contentTypes.map((type) => [
            type,
            type === 'multipart/form-data'
              ? {
                  schema: {
                    type: 'object',
                    properties: {
                      file: {
                        type: 'string',
                        contentMediaType: 'application/octet-stream',
                      },
                    },
                    required: ['file'],
                  },
                }
              : { schema: { type: 'string', contentMediaType: type } },
          ]),
        ),
      },
    }),
    responses,
  };
}

function parametersOf(
  schema: z.ZodObject | undefined,
  location: 'path' | 'query' | 'header',
): JsonObject[] {
  if (!schema) return [];

  // Each member becomes one parameter; query values arrive as text and are
  // coerced, so the output side says what they mean (an integer, say).
  const json = plain(z.toJSONSchema(schema, { io: 'output' }));
  const properties = (json.properties ?? {}) as Record<string, JsonObject>;
  const required = new Set((json.required ?? []) as string[]);
  return Object.entries(properties).map(([name, property]) => {
    const { description, ...rest } = property;
    const hasDefault = 'default' in property;
    return {
      name,
      in: location,
      required: location === 'path' || (required.has(name) && !hasDefault),
      ...(typeof description === 'string' && { description }),
      schema: rest,
    };
  });
}

function schemaOrRef(schema: z.ZodType, io: 'input' | 'output'): JsonObject {
  const id = contractSchemas.get(schema)?.id;
  if (id !== undefined) return { $ref: `${componentPrefix}${id}` };
  return plain(z.toJSONSchema(schema, { io }));
}

function componentSchemas(): Record<string, JsonObject> {
  const { schemas } = z.toJSONSchema(contractSchemas, {
    io: 'output',
    uri: (id) => `${componentPrefix}${id}`,
  });
  return Object.fromEntries(
    Object.entries(schemas).map(([id, schema]) => [
      id,
      plain(schema as JsonObject),
    ]),
  );
}

// A component is embedded in the document, not a standalone schema.
function plain(schema: JsonObject): JsonObject {
  const { $schema: _schema, $id: _id, ...rest } = schema;
  return rest;
}
