"""Dataset endpoints: upload, list, fetch (for workers) and delete."""

from typing import Annotated, Literal

from fastapi import APIRouter, Depends, File, Form, Header, Response, UploadFile
from fastapi.responses import FileResponse

from backend.datasets import service
from backend.datasets.schemas import DatasetOut, DatasetPage
from backend.deps import DatasetDep, SessionDep
from backend.errors import InvalidInput, NotFound, error_responses, field_error
from backend.responses import OrjsonResponse
from backend.settings import get_settings

router = APIRouter(prefix="/api/datasets", tags=["datasets"])


def bounded_body(content_length: Annotated[int | None, Header(ge=0)] = None) -> None:
    """Refuse an oversize upload before its body is read, when the client says its size."""
    cap_mb = get_settings().MAX_DATASET_MB
    if content_length is not None and content_length > cap_mb * 2**20 + 2**20:
        raise InvalidInput([field_error("file", f"is larger than REGLAB_MAX_DATASET_MB = {cap_mb} MiB")])


@router.post(
    "",
    status_code=201,
    response_model=DatasetOut,
    dependencies=[Depends(bounded_body)],
    responses=error_responses(409, 422),
)
def upload_dataset(
    session: SessionDep,
    file: Annotated[UploadFile, File(description=".npz, .csv (with label_column) or .zip of class_name/*.png|jpg")],
    name: Annotated[str | None, Form(max_length=200, description="Unique name; the file's stem by default")] = None,
    label_column: Annotated[str | None, Form(max_length=200, description="CSV: the column holding labels")] = None,
    color: Annotated[Literal["grayscale", "rgb"], Form(description="Images: converted to this")] = "grayscale",
    image_size: Annotated[int | None, Form(ge=1, le=256, description="Images: resized to this square side")] = None,
) -> OrjsonResponse:
    """Upload a dataset; 201 with its record, 422 saying what is wrong with the file."""
    dataset = service.create_dataset(
        session, file.file, file.filename or "", name, label_column=label_column, color=color, image_size=image_size
    )
    return OrjsonResponse(service.dataset_out(dataset), status_code=201)


@router.get("", response_model=DatasetPage, responses=error_responses(422))
def list_datasets(session: SessionDep) -> OrjsonResponse:
    """Every uploaded dataset, newest first."""
    return OrjsonResponse({"items": [service.dataset_out(d) for d in service.list_datasets(session)]})


@router.get("/{dataset_id}", response_model=DatasetOut, responses=error_responses(404, 422))
def get_dataset(dataset: DatasetDep) -> OrjsonResponse:
    return OrjsonResponse(service.dataset_out(dataset))


@router.get(
    "/{dataset_id}/file",
    response_class=FileResponse,
    responses={
        200: {"content": {"application/octet-stream": {"schema": {"type": "string", "format": "binary"}}},
              "description": "The stored .npz"},
        **error_responses(404, 422),
    },
)
def dataset_file(dataset: DatasetDep) -> FileResponse:
    """The stored arrays as one .npz (what workers fetch and cache by sha256)."""
    path = service.dataset_file(dataset)
    if not path.is_file():
        raise NotFound(f"the file of dataset {dataset.id} is missing from the data directory")
    return FileResponse(path, media_type="application/octet-stream", filename=f"{dataset.sha256}.npz")


@router.delete("/{dataset_id}", status_code=204, response_class=Response, responses=error_responses(404, 409, 422))
def delete_dataset(dataset: DatasetDep, session: SessionDep) -> Response:
    """Delete a dataset; 409 naming the runs that still use it."""
    service.delete_dataset(session, dataset)
    return Response(status_code=204)
