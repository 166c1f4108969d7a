// JSON Schema in the browser: a form generated from an agent's input schema, and a checker
// for results against an output schema. The checker covers the keywords agents use in
// practice (type, enum, const, properties, required, additionalProperties, items, lengths,
// bounds, pattern, anyOf/oneOf/allOf, local $ref); the server's validation stays the authority.

import { h, pretty } from "./dom.js";

const SIMPLE = new Set(["string", "number", "integer", "boolean"]);

function typeOf(schema) {
  if (!schema) return null;
  if (Array.isArray(schema.enum)) return "enum";
  const type = Array.isArray(schema.type) ? schema.type.filter((t) => t !== "null") : [schema.type];
  return type.length === 1 && SIMPLE.has(type[0]) ? type[0] : null;
}

export function isFormable(schema) {
  return Boolean(schema && (schema.type === "object" || schema.properties) && schema.properties
    && Object.keys(schema.properties).length);
}

/** Build input fields for an object schema; `read()` returns the input object or throws. */
export function schemaForm(schema, idPrefix = "in") {
  const required = new Set(schema.required || []);
  const readers = [];
  const wrap = h("div", { class: "schema-form" });
  for (const [name, prop] of Object.entries(schema.properties)) {
    const id = `${idPrefix}-${name.replace(/[^A-Za-z0-9_-]/g, "_")}`;
    const kind = typeOf(prop);
    const isRequired = required.has(name);
    const hintId = prop.description ? `${id}-hint` : null;
    const label = h("label", { for: id }, prop.title || name, isRequired ? h("span", { class: "req", "aria-hidden": "true", text: " *" }) : null);
    let control;
    let read;
    if (kind === "enum") {
      control = h("select", { id, name, required: isRequired, "aria-describedby": hintId },
        isRequired && prop.default === undefined ? null : h("option", { value: "", text: "—" }),
        prop.enum.map((v, i) => h("option", { value: String(i), text: String(v), selected: v === prop.default })));
      read = () => (control.value === "" ? undefined : prop.enum[Number(control.value)]);
    } else if (kind === "boolean") {
      control = h("input", { id, name, type: "checkbox", checked: prop.default === true, "aria-describedby": hintId });
      read = () => control.checked;
    } else if (kind === "number" || kind === "integer") {
      control = h("input", {
        id, name, type: "number", inputmode: kind === "integer" ? "numeric" : "decimal",
        step: kind === "integer" ? "1" : "any", min: prop.minimum, max: prop.maximum,
        value: prop.default ?? "", required: isRequired, "aria-describedby": hintId,
      });
      read = () => {
        if (control.value === "") return undefined;
        const n = Number(control.value);
        if (!Number.isFinite(n) || (kind === "integer" && !Number.isInteger(n))) {
          throw new Error(`${name}: expected ${kind === "integer" ? "an integer" : "a number"}`);
        }
        return n;
      };
    } else if (kind === "string") {
      const long = (prop.maxLength || 0) > 200 || prop.format === "textarea" || /text|body|content|prompt/.test(name);
      const inputType = { email: "email", uri: "url", date: "date", "date-time": "datetime-local" }[prop.format] || "text";
      control = long
        ? h("textarea", { id, name, rows: 3, required: isRequired, "aria-describedby": hintId, text: prop.default ?? "" })
        : h("input", { id, name, type: inputType, value: prop.default ?? "", required: isRequired,
          minlength: prop.minLength, maxlength: prop.maxLength, pattern: prop.pattern, "aria-describedby": hintId });
      read = () => (control.value === "" ? undefined : control.value);
    } else {
      control = h("textarea", {
        id, name, rows: 3, class: "code", spellcheck: "false", required: isRequired, "aria-describedby": hintId,
        text: prop.default !== undefined ? pretty(prop.default) : "",
      });
      read = () => {
        if (control.value.trim() === "") return undefined;
        try {
          return JSON.parse(control.value);
        } catch {
          throw new Error(`${name}: not valid JSON`);
        }
      };
    }
    const pair = kind === "boolean" ? [control, label] : [label, control];
    wrap.append(h("div", { class: `field${kind === "boolean" ? " check" : ""}` }, ...pair,
      hintId ? h("small", { id: hintId, class: "muted", text: prop.description }) : null));
    readers.push([name, read, isRequired]);
  }
  const read = () => {
    const value = {};
    for (const [name, reader, isRequired] of readers) {
      const v = reader();
      if (v === undefined) {
        if (isRequired) throw new Error(`${name}: required`);
        continue;
      }
      value[name] = v;
    }
    return value;
  };
  return { element: wrap, read };
}

// ---- checker ----

function resolve(root, ref) {
  if (!ref.startsWith("#/")) return {};
  return ref.slice(2).split("/").reduce((node, key) => node?.[key.replace(/~1/g, "/").replace(/~0/g, "~")], root) || {};
}

function matchesType(type, value) {
  switch (type) {
    case "null": return value === null;
    case "boolean": return typeof value === "boolean";
    case "integer": return Number.isInteger(value);
    case "number": return typeof value === "number" && Number.isFinite(value);
    case "string": return typeof value === "string";
    case "array": return Array.isArray(value);
    case "object": return value !== null && typeof value === "object" && !Array.isArray(value);
    default: return true;
  }
}

const equal = (a, b) => JSON.stringify(a) === JSON.stringify(b);

/** Errors of `value` against `schema`, as "path: message" strings; empty when valid. */
export function check(schema, value, root = schema, path = "$") {
  if (schema === true || schema === undefined) return [];
  if (schema === false) return [`${path}: not allowed`];
  if (schema.$ref) return check(resolve(root, schema.$ref), value, root, path);
  const errors = [];
  if (schema.type !== undefined) {
    const types = Array.isArray(schema.type) ? schema.type : [schema.type];
    if (!types.some((t) => matchesType(t, value))) {
      return [`${path}: expected ${types.join(" or ")}, got ${value === null ? "null" : Array.isArray(value) ? "array" : typeof value}`];
    }
  }
  if (schema.enum && !schema.enum.some((e) => equal(e, value))) errors.push(`${path}: not one of ${JSON.stringify(schema.enum)}`);
  if ("const" in schema && !equal(schema.const, value)) errors.push(`${path}: must be ${JSON.stringify(schema.const)}`);
  if (typeof value === "string") {
    if (schema.minLength !== undefined && value.length < schema.minLength) errors.push(`${path}: shorter than ${schema.minLength}`);
    if (schema.maxLength !== undefined && value.length > schema.maxLength) errors.push(`${path}: longer than ${schema.maxLength}`);
    if (schema.pattern && !new RegExp(schema.pattern, "u").test(value)) errors.push(`${path}: does not match ${schema.pattern}`);
  }
  if (typeof value === "number") {
    if (schema.minimum !== undefined && value < schema.minimum) errors.push(`${path}: below ${schema.minimum}`);
    if (schema.maximum !== undefined && value > schema.maximum) errors.push(`${path}: above ${schema.maximum}`);
    if (schema.exclusiveMinimum !== undefined && value <= schema.exclusiveMinimum) errors.push(`${path}: not above ${schema.exclusiveMinimum}`);
    if (schema.exclusiveMaximum !== undefined && value >= schema.exclusiveMaximum) errors.push(`${path}: not below ${schema.exclusiveMaximum}`);
  }
  if (Array.isArray(value)) {
    if (schema.minItems !== undefined && value.length < schema.minItems) errors.push(`${path}: fewer than ${schema.minItems} items`);
    if (schema.maxItems !== undefined && value.length > schema.maxItems) errors.push(`${path}: more than ${schema.maxItems} items`);
    if (schema.items && typeof schema.items === "object") {
      value.forEach((item, i) => errors.push(...check(schema.items, item, root, `${path}[${i}]`)));
    }
  }
  if (matchesType("object", value)) {
    for (const name of schema.required || []) if (!(name in value)) errors.push(`${path}: missing required "${name}"`);
    const props = schema.properties || {};
    for (const [name, item] of Object.entries(value)) {
      if (name in props) errors.push(...check(props[name], item, root, `${path}.${name}`));
      else if (schema.additionalProperties === false) errors.push(`${path}: unexpected property "${name}"`);
      else if (typeof schema.additionalProperties === "object") errors.push(...check(schema.additionalProperties, item, root, `${path}.${name}`));
    }
  }
  for (const sub of schema.allOf || []) errors.push(...check(sub, value, root, path));
  if (schema.anyOf && !schema.anyOf.some((sub) => check(sub, value, root, path).length === 0)) errors.push(`${path}: matches none of anyOf`);
  if (schema.oneOf && schema.oneOf.filter((sub) => check(sub, value, root, path).length === 0).length !== 1) {
    errors.push(`${path}: must match exactly one of oneOf`);
  }
  return errors;
}
