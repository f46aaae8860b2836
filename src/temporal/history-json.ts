import path from 'node:path';
import type { History } from '@temporalio/common/lib/proto-utils';
import { temporal } from '@temporalio/proto';

/**
 * Workflow histories as proto JSON, the format of `temporal workflow show --output json` and of
 * the SDK's `historyToJSON`.
 *
 * Why not `historyFromJSON`/`historyToJSON` from @temporalio/common: in this dependency tree
 * (@grpc/proto-loader keeps protobufjs 7 at the top level) every @temporalio package gets its own
 * copy of protobufjs 8, and common's copy rejects the types @temporalio/proto built with another
 * copy ("TypeError: type must be a Type", an instanceof across copies). The ProtoJSON code of the
 * copy that built those types has no such problem, whichever way npm lays the tree out.
 */

interface ReflectedEnum {
  values: Record<string, number>;
}
interface ReflectedField {
  name: string;
  jsonName?: string;
  protoName?: string;
  repeated: boolean;
  map: boolean;
  resolvedType: ReflectedType | ReflectedEnum | null;
  resolve(): ReflectedField;
}
interface ReflectedType {
  fullName: string;
  fieldsArray: ReflectedField[];
  fromObject(object: unknown): unknown;
}
interface ProtoJson {
  fromJson(type: ReflectedType, json: unknown, options?: { ignoreUnknownFields?: boolean }): unknown;
  toJson(type: ReflectedType, message: unknown): unknown;
}

const protojson: ProtoJson = require(
  require.resolve('protobufjs/ext/protojson', { paths: [path.dirname(require.resolve('@temporalio/proto'))] }),
);
// The package's root is a protobufjs reflection tree: this "class" is the History message's Type.
const HistoryType = temporal.api.history.v1.History as unknown as ReflectedType;

function isEnum(t: ReflectedType | ReflectedEnum | null): t is ReflectedEnum {
  return t !== null && 'values' in t && !('fieldsArray' in t);
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** `EVENT_TYPE_` of EventType: the `_`-ended prefix that all of an enum's names share. */
function commonPrefix(names: string[]): string {
  let prefix = names[0] ?? '';
  for (const name of names) while (!name.startsWith(prefix)) prefix = prefix.slice(0, -1);
  return prefix.slice(0, prefix.lastIndexOf('_') + 1);
}

/**
 * Some tools (the Temporal CLI, the web UI's export) write enum values in short form
 * (`WorkflowExecutionStarted`, `Normal`); ProtoJSON wants `EVENT_TYPE_WORKFLOW_EXECUTION_STARTED`.
 */
function canonicalEnumName(enumType: ReflectedEnum, value: string): string {
  if (value in enumType.values) return value;
  const names = Object.keys(enumType.values);
  const long = commonPrefix(names) + value.replace(/([a-z0-9])([A-Z])/g, '$1_$2').toUpperCase();
  return long in enumType.values ? long : value;
}

function canonicalValue(field: ReflectedField, value: unknown): unknown {
  const type = field.resolvedType;
  if (isEnum(type)) return typeof value === 'string' ? canonicalEnumName(type, value) : value;
  // Well-known types (Timestamp, Duration, Struct) have JSON forms of their own: leave them be.
  if (type && isPlainObject(value) && !type.fullName.startsWith('.google.protobuf.')) return canonicalMessage(type, value);
  return value;
}

function canonicalMessage(type: ReflectedType, json: Record<string, unknown>): Record<string, unknown> {
  const fields = new Map<string, ReflectedField>();
  for (const raw of type.fieldsArray) {
    const field = raw.resolve();
    for (const key of [field.name, field.jsonName, field.protoName]) if (key) fields.set(key, field);
  }
  return Object.fromEntries(
    Object.entries(json).map(([key, value]) => {
      const field = fields.get(key);
      if (!field) return [key, value];
      if (field.map && isPlainObject(value)) {
        return [key, Object.fromEntries(Object.entries(value).map(([k, v]) => [k, canonicalValue(field, v)]))];
      }
      if (field.repeated && Array.isArray(value)) return [key, value.map((v) => canonicalValue(field, v))];
      return [key, canonicalValue(field, value)];
    }),
  );
}

/** A History from its proto JSON (`temporal workflow show --output json`, `historyToJSON`). */
export function historyFromJSON(json: unknown): History {
  if (!isPlainObject(json) || !Array.isArray(json.events)) {
    throw new TypeError('not a workflow history: expected an object with an array of events');
  }
  return protojson.fromJson(HistoryType, canonicalMessage(HistoryType, json), { ignoreUnknownFields: true }) as History;
}

/** The proto JSON of a History (e.g. from `fetchHistory()`), indented as the SDK's `historyToJSON` does. */
export function historyToJSON(history: History): string {
  return JSON.stringify(protojson.toJson(HistoryType, HistoryType.fromObject(history)), null, 2);
}
