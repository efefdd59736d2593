// A run-spec form generated from the JSON Schema (GET /api/spec/schema).
// Each field gets a label, an input matching its type, help text made of its
// description and bounds, and an error slot the API's 422 details land in.
// The form edits a plain spec object in place and calls onChange after each edit.

import { el } from "./dom.js";

const SECTION_TITLES = {
  dataset: "Dataset",
  model: "Model",
  regularization: "Regularization",
  optimizer: "Optimizer",
  schedule: "Learning-rate schedule",
  training: "Training",
  evaluation: "Evaluation",
};

export function resolveRef(schema, node) {
  if (node && node.$ref) return schema.$defs[node.$ref.split("/").pop()];
  return node;
}

// {anyOf: [X, {type: null}]} -> [X, true]
function unwrapNullable(schema, prop) {
  if (prop.anyOf) {
    const options = prop.anyOf.filter((option) => option.type !== "null");
    const nullable = options.length < prop.anyOf.length;
    return [{ ...resolveRef(schema, options[0]), description: prop.description, default: prop.default }, nullable];
  }
  return [resolveRef(schema, prop), false];
}

export function describeBounds(prop) {
  const parts = [];
  if (prop.minimum != null) parts.push(`≥ ${prop.minimum}`);
  if (prop.exclusiveMinimum != null) parts.push(`> ${prop.exclusiveMinimum}`);
  if (prop.maximum != null) parts.push(`≤ ${prop.maximum}`);
  if (prop.exclusiveMaximum != null) parts.push(`< ${prop.exclusiveMaximum}`);
  return parts.join(", ");
}

export function getPath(object, path) {
  return path.split(".").reduce((node, key) => (node == null ? undefined : node[key]), object);
}

export function setPath(object, path, value) {
  const keys = path.split(".");
  let node = object;
  for (const key of keys.slice(0, -1)) node = node[key] ??= {};
  node[keys[keys.length - 1]] = value;
}

// Every leaf path of the spec with its schema, for the grid builder's field picker.
export function listFieldPaths(schema) {
  const paths = [];
  for (const [section, ref] of Object.entries(schema.properties)) {
    if (section === "spec_version") continue;
    if (section === "schedule") {
      paths.push({ path: "schedule", label: "schedule (whole schedule, JSON objects)" });
      continue;
    }
    paths.push({ path: section, label: `${section} (whole section, JSON objects)` });
    const node = resolveRef(schema, ref);
    for (const [name, prop] of Object.entries(node.properties || {})) {
      paths.push({ path: `${section}.${name}`, label: `${section}.${name}`, prop });
    }
  }
  return paths;
}

function fieldId(path) {
  return `field-${path.replace(/\./g, "-")}`;
}

export function errorSlotId(path) {
  return `error-${path.replace(/\./g, "-")}`;
}

function renderHelp(path, prop, nullable) {
  const bounds = describeBounds(prop);
  const text = [prop.description, bounds && `(${bounds})`, nullable && "Empty means null."].filter(Boolean).join(" ");
  return el("p", { class: "help", id: `${fieldId(path)}-help` }, text);
}

// A non-integer in an integer field is sent as typed, so the API's 422 says why.
function parseNumber(text) {
  const value = Number(text);
  return text.trim() === "" || !Number.isFinite(value) ? NaN : value;
}

function renderInput(path, prop, nullable, spec, onChange) {
  const id = fieldId(path);
  const value = getPath(spec, path);
  const described = `${id}-help ${errorSlotId(path)}`;
  const commit = (next) => {
    setPath(spec, path, next);
    onChange(path);
  };
  if (prop.enum) {
    const select = el("select", { id, name: path, "aria-describedby": described },
      prop.enum.map((option) => el("option", { value: option }, option)));
    select.value = value;
    select.addEventListener("change", () => commit(select.value));
    return select;
  }
  if (prop.type === "boolean") {
    const box = el("input", { id, name: path, type: "checkbox", "aria-describedby": described });
    box.checked = Boolean(value);
    box.addEventListener("change", () => commit(box.checked));
    return box;
  }
  if (prop.type === "array") {
    const input = el("input", { id, name: path, type: "text", "aria-describedby": described, placeholder: "comma-separated" });
    input.value = (value || []).join(", ");
    input.addEventListener("input", () => {
      const items = input.value.split(",").map((part) => part.trim()).filter(Boolean).map((part) => parseNumber(part));
      // An unreadable item goes as null: the API names the list and its bounds.
      commit(items.map((item) => (Number.isNaN(item) ? null : item)));
    });
    return input;
  }
  if (prop.type === "integer" || prop.type === "number") {
    const integer = prop.type === "integer";
    const input = el("input", {
      id, name: path, type: "number", "aria-describedby": described,
      step: integer ? "1" : "any",
      min: prop.minimum ?? prop.exclusiveMinimum, max: prop.maximum ?? prop.exclusiveMaximum,
      placeholder: nullable ? "null" : "",
    });
    input.value = value == null ? "" : String(value);
    input.addEventListener("input", () => {
      if (input.value.trim() === "" && nullable) return commit(null);
      const parsed = parseNumber(input.value);
      // An unparsable number goes to the API as text, so its 422 lands next to the field.
      commit(Number.isNaN(parsed) ? input.value : parsed);
    });
    return input;
  }
  const input = el("input", { id, name: path, type: "text", "aria-describedby": described });
  input.value = value ?? "";
  input.addEventListener("input", () => commit(input.value));
  return input;
}

export function renderField(schema, path, rawProp, spec, onChange) {
  const [prop, nullable] = unwrapNullable(schema, rawProp);
  const name = path.split(".").pop();
  const input = renderInput(path, prop, nullable, spec, onChange);
  const isCheckbox = prop.type === "boolean";
  return el("div", { class: `field${isCheckbox ? " field-check" : ""}`, dataset: { path } },
    el("label", { for: input.id }, name.replace(/_/g, " ")),
    input,
    renderHelp(path, prop, nullable),
    el("p", { class: "field-error", id: errorSlotId(path), "aria-live": "polite" }));
}

// A nullable sub-object (training.early_stopping): a checkbox turns it on with its defaults.
function renderOptionalObject(schema, path, rawProp, spec, onChange) {
  const [objectSchema] = unwrapNullable(schema, rawProp);
  const name = path.split(".").pop().replace(/_/g, " ");
  const id = fieldId(path);
  const box = el("input", { id, type: "checkbox", name: path });
  const inner = el("div", { class: "subfields" });
  const fill = () => {
    inner.replaceChildren();
    const value = getPath(spec, path);
    box.checked = value != null;
    if (value == null) return;
    for (const [key, prop] of Object.entries(objectSchema.properties)) {
      inner.append(renderField(schema, `${path}.${key}`, prop, spec, onChange));
    }
  };
  box.addEventListener("change", () => {
    const defaults = Object.fromEntries(Object.entries(objectSchema.properties).map(([key, prop]) => [key, prop.default]));
    setPath(spec, path, box.checked ? defaults : null);
    fill();
    onChange(path);
  });
  fill();
  return el("div", { class: "field field-object", dataset: { path } },
    el("div", { class: "field-check" }, box, el("label", { for: id }, `use ${name}`)),
    el("p", { class: "help" }, rawProp.description || ""),
    el("p", { class: "field-error", id: errorSlotId(path), "aria-live": "polite" }),
    inner);
}

// A list of sub-objects (model.conv): one row of fields per item, with add and remove buttons.
function renderObjectList(schema, path, prop, spec, onChange) {
  const itemSchema = resolveRef(schema, prop.items);
  const name = path.split(".").pop().replace(/_/g, " ");
  const rows = el("div", { class: "subfields object-list" });
  const defaults = () => Object.fromEntries(Object.entries(itemSchema.properties).map(([key, p]) => [key, p.default]));
  const fill = () => {
    const items = getPath(spec, path) || [];
    rows.replaceChildren(...items.map((_, index) => {
      const remove = el("button", { type: "button", class: "secondary", "aria-label": `remove ${name} ${index + 1}` }, "Remove");
      remove.addEventListener("click", () => {
        items.splice(index, 1);
        fill();
        onChange(path);
      });
      return el("div", { class: "object-row", dataset: { path: `${path}.${index}` } },
        el("span", { class: "object-index" }, `${index + 1}`),
        ...Object.entries(itemSchema.properties).map(([key, p]) => renderField(schema, `${path}.${index}.${key}`, p, spec, onChange)),
        remove);
    }));
  };
  const add = el("button", { type: "button", class: "secondary", id: fieldId(`${path}.add`) }, `Add ${name} block`);
  add.addEventListener("click", () => {
    const items = getPath(spec, path) || [];
    if (prop.maxItems != null && items.length >= prop.maxItems) return;
    setPath(spec, path, [...items, defaults()]);
    fill();
    onChange(path);
  });
  fill();
  return el("div", { class: "field field-object", dataset: { path } },
    el("label", { for: add.id }, name),
    el("p", { class: "help" }, `${prop.description || ""}${prop.maxItems != null ? ` (at most ${prop.maxItems})` : ""}`),
    el("p", { class: "field-error", id: errorSlotId(path), "aria-live": "polite" }),
    rows, add);
}

export function scheduleVariants(schema) {
  const mapping = schema.properties.schedule.discriminator.mapping;
  return Object.fromEntries(Object.entries(mapping).map(([name, ref]) => [name, resolveRef(schema, { $ref: ref })]));
}

// Defaults of a schedule kind from its schema (list defaults come from default_factory
// and are missing there; the API's /api/spec/validate fills them in).
export function scheduleDefaults(schema, name) {
  const variant = scheduleVariants(schema)[name];
  const defaults = {};
  for (const [key, prop] of Object.entries(variant.properties)) {
    if ("default" in prop) defaults[key] = prop.default;
  }
  defaults.name = name;
  return defaults;
}

// The schedule sub-form switches its fields with schedule.name (a discriminated union).
function renderScheduleSection(schema, spec, onChange, onSwitch) {
  const variants = scheduleVariants(schema);
  const select = el("select", { id: fieldId("schedule.name"), name: "schedule.name", "aria-describedby": "schedule-doc" },
    Object.keys(variants).map((name) => el("option", { value: name }, name)));
  select.value = spec.schedule.name;
  const doc = el("p", { class: "help schedule-doc", id: "schedule-doc" });
  const fields = el("div", { class: "subfields" });
  const fill = () => {
    const variant = variants[spec.schedule.name];
    doc.textContent = variant.description || "";
    fields.replaceChildren(...Object.entries(variant.properties)
      .filter(([key]) => key !== "name")
      .map(([key, prop]) => renderField(schema, `schedule.${key}`, prop, spec, onChange)));
  };
  select.addEventListener("change", () => {
    spec.schedule = scheduleDefaults(schema, select.value);
    fill();
    onSwitch?.();
    onChange("schedule");
  });
  fill();
  return [
    el("div", { class: "field", dataset: { path: "schedule.name" } },
      el("label", { for: select.id }, "kind"), select, doc,
      el("p", { class: "field-error", id: errorSlotId("schedule"), "aria-live": "polite" })),
    fields,
  ];
}

export function renderSpecForm(container, schema, spec, onChange, onScheduleSwitch) {
  const sections = [];
  for (const [section, ref] of Object.entries(schema.properties)) {
    if (section === "spec_version") continue;
    const fieldset = el("fieldset", { class: `section section-${section}`, id: `section-${section}` },
      el("legend", {}, SECTION_TITLES[section] || section),
      el("p", { class: "field-error", id: errorSlotId(section), "aria-live": "polite" }));
    if (section === "schedule") {
      fieldset.append(...renderScheduleSection(schema, spec, onChange, onScheduleSwitch));
    } else {
      const node = resolveRef(schema, ref);
      for (const [name, prop] of Object.entries(node.properties)) {
        const path = `${section}.${name}`;
        const isObject = prop.anyOf && prop.anyOf.some((option) => option.$ref);
        const isObjectList = prop.type === "array" && prop.items && prop.items.$ref;
        if (isObjectList) fieldset.append(renderObjectList(schema, path, prop, spec, onChange));
        else fieldset.append(isObject ? renderOptionalObject(schema, path, prop, spec, onChange) : renderField(schema, path, prop, spec, onChange));
      }
    }
    sections.push(fieldset);
  }
  container.replaceChildren(...sections);
}

// Puts each 422 detail next to its field: the deepest element whose path prefixes it.
export function showFieldErrors(container, details, fallback) {
  for (const slot of container.querySelectorAll(".field-error")) slot.textContent = "";
  for (const node of container.querySelectorAll(".has-error")) node.classList.remove("has-error");
  const unplaced = [];
  for (const detail of details) {
    const path = detail.field.replace(/^base\./, "");
    const slot = findErrorSlot(container, path);
    if (!slot) {
      unplaced.push(`${path}: ${detail.msg}`);
      continue;
    }
    slot.textContent = slot.textContent ? `${slot.textContent}; ${detail.msg}` : detail.msg;
    slot.closest(".field")?.classList.add("has-error");
  }
  fallback(unplaced);
}

function findErrorSlot(container, path) {
  const parts = path.split(".");
  for (let n = parts.length; n > 0; n--) {
    const slot = container.querySelector(`#${CSS.escape(errorSlotId(parts.slice(0, n).join(".")))}`);
    if (slot) return slot;
  }
  return null;
}
