// Uploaded datasets on the New study page: the upload panel (POST /api/datasets)
// and the uploads offered in the dataset.name select next to the built-ins.

import { ApiError, fetchJson } from "./api.js";
import { el } from "./dom.js";

export const listUploads = () => fetchJson("/api/datasets").then((page) => page.items);

export function uploadDataset(form) {
  return fetchJson("/api/datasets", { method: "POST", body: new FormData(form) });
}

function describeUpload(dataset) {
  return `${dataset.name} (${dataset.shape.join("×")}, ${dataset.classes} classes, ${dataset.train} train)`;
}

// Adds one option per upload to the dataset.name select and keeps the spec's choice selected.
export function addUploadOptions(select, uploads, chosen) {
  if (!select) return;
  for (const option of select.querySelectorAll("option[data-upload]")) option.remove();
  if (uploads.length) {
    const group = el("optgroup", { label: "Uploaded", dataset: { upload: "1" } },
      uploads.map((dataset) => el("option", { value: dataset.ref, dataset: { upload: "1" } }, describeUpload(dataset))));
    select.append(group);
  }
  if (chosen != null) select.value = chosen;
}

// The upload form: file, name, CSV label column, image colour and size; reports in words.
export function mountUploadPanel(form, onUploaded) {
  const status = form.querySelector(".upload-status");
  const file = form.querySelector("input[type=file]");
  const csvOnly = form.querySelector(".upload-csv");
  const imagesOnly = form.querySelector(".upload-images");
  const showKind = () => {
    const name = (file.files[0]?.name || "").toLowerCase();
    csvOnly.hidden = !name.endsWith(".csv");
    imagesOnly.hidden = !name.endsWith(".zip");
  };
  file.addEventListener("change", showKind);
  showKind();
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    if (!file.files.length) {
      status.textContent = "Choose a .npz, .csv or .zip file first.";
      return;
    }
    status.textContent = "Uploading…";
    status.dataset.kind = "";
    try {
      const dataset = await uploadDataset(form);
      status.textContent = `Uploaded ${describeUpload(dataset)} as ${dataset.ref}.`;
      form.reset();
      showKind();
      onUploaded(dataset);
    } catch (error) {
      const detail = error instanceof ApiError && Array.isArray(error.body?.detail)
        ? error.body.detail.map((item) => `${item.field}: ${item.msg}`).join("; ")
        : error.message;
      status.textContent = `Not uploaded: ${detail}`;
      status.dataset.kind = "error";
    }
  });
}
