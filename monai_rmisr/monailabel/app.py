"""``RMISRApp``: a MONAI Label app whose infer tasks are the shipped RMISR models (needs ``monailabel``)."""

from __future__ import annotations

import functools
import json
import logging
import os
import re
import shutil
from typing import Any

import requests

from . import compat

compat.install()  # before MONAI Label is imported: see compat

from monailabel.interfaces.app import MONAILabelApp  # noqa: E402

from .._version import __version__  # noqa: E402
from ..config import config_flag  # noqa: E402
from .infer import (  # noqa: E402
    IMAGE_NAME_KEY,
    MAX_OUTPUT_PIXELS,
    NetworkCache,
    files_of_image_id,
    is_upload_request,
    not_in_datastore,
    save_upload,
    upload_params,
)
from .task import SuperResolutionTask  # noqa: E402

__all__ = [
    "DATASTORE_WRITES",
    "DCMQI_TOOL",
    "SERVED_ENDPOINTS",
    "TASKS",
    "RMISRApp",
    "check_unambiguous_id",
    "guard_datastore_endpoints",
    "guard_infer_endpoint",
    "serve_only_super_resolution",
]

logger = logging.getLogger(__name__)

#: Task name -> (default scale, model). The arbitrary-scale task takes any ``scale`` in its params.
TASKS: dict[str, tuple[float, str]] = {
    "rmisr_x2": (2.0, "rmisr_bl_x2"),
    "rmisr_x3": (3.0, "rmisr_bl_x3"),
    "rmisr_x4": (4.0, "rmisr_bl_x4"),
    "rmisr_vp_x4": (4.0, "rmisr_vp_x4"),
    "rmisr_any_scale": (2.5, "rmisr_meta"),
    "bicubic": (2.0, "bicubic"),
}
#: dcmqi's converter that MONAI Label runs to write a label as DICOM SEG (``output=dicom_seg``, a final
#: label saved to a DICOMweb datastore); MONAI Label 0.8.5 downloads dcmqi from GitHub when it is missing.
DCMQI_TOOL = "itkimage2segimage"


def guard_infer_endpoint() -> None:
    """Make MONAI Label's ``POST /infer/{model}`` refuse, with a 400, what super-resolution cannot honour,
    and mark a request with an upload as such (:func:`~monai_rmisr.monailabel.infer.upload_params`):
    only then may its ``image`` be a file in the temporary folder.

    Refused: a ``params`` ``image`` beside an uploaded ``file`` (MONAI Label 0.8.5's endpoint saves
    the upload, sets the request's ``image`` to it, and only then merges ``params`` into the request,
    so a ``params`` ``image`` would replace the upload, and the task cannot tell the two apart), and
    ``output=dicom_seg`` (MONAI Label would write the result as the segments of a DICOM SEG, which a
    super-resolved image is not, with dcmqi, which this app does not download: before anything runs).
    A datastore's server (DICOMweb) that cannot be reached or answers with an HTTP error (a wrong
    password: 401) is a 502 that quotes the error, not a bare 500; so are params that are no JSON object
    (400), an unknown task (404) and a request without an image (400) (:func:`_check_request`). An upload
    is saved here (:func:`~monai_rmisr.monailabel.infer.save_upload`: mode 0600) and removed once the request
    is answered, refused or not (MONAI Label's endpoint saved it world-readable and left it in the temporary
    folder after every refusal); a ``label`` upload, which super-resolution does not take, is a 400. The
    endpoint calls its module's ``run_inference``; this wraps that function, once per process (MONAI Label
    has no hook for it).
    """
    from fastapi import HTTPException
    from monailabel.endpoints import infer as endpoint

    run_inference = endpoint.run_inference
    if getattr(run_inference, "rmisr_guard", False):
        return

    @functools.wraps(run_inference)
    def guarded(background_tasks, model, image="", session_id="", params="{}", file=None, label=None, output=None):
        if getattr(output, "value", output) == "dicom_seg":
            raise HTTPException(
                status_code=400,
                detail="output=dicom_seg makes a DICOM SEG of a segmentation; super-resolution returns an image: "
                "ask output=image (a DICOM series comes back as a derived series, one .zip), json or all.",
            )
        if label:
            raise HTTPException(
                status_code=400,
                detail="a label is not an input of super-resolution: send the image alone (file or image=ID).",
            )
        upload = None
        try:  # the task list and the endpoint list the datastore, the task fetches the image
            _check_request(model, image, session_id, params, file)
            if file:
                try:
                    params = upload_params(params, file.filename)
                except ValueError as err:
                    raise HTTPException(status_code=400, detail=str(err)) from err
                upload = save_upload(file.file, file.filename)  # 0600, and removed below whatever the answer
                image, file = str(upload), None  # what MONAI Label's endpoint does with an upload, less its file
            return run_inference(background_tasks, model, image, session_id, params, file, None, output)
        except requests.RequestException as err:
            raise HTTPException(status_code=502, detail=f"the datastore's server did not answer: {err}") from err
        finally:
            if upload is not None:  # the result is made (or refused): the upload is not needed for the answer
                upload.unlink(missing_ok=True)

    guarded.rmisr_guard = True  # type: ignore[attr-defined]
    endpoint.run_inference = guarded


#: MONAI Label's datastore endpoint functions that change the studies folder (upload, delete, relabel, edit info)
DATASTORE_WRITES = (
    "add_image",
    "remove_image",
    "save_label",
    "remove_label",
    "update_image_info",
    "update_label_info",
)


def _check_request(model: str, image: Any, session_id: Any, params: Any, file: Any) -> None:
    """The 4xx a request gets where MONAI Label 0.8.5 would answer a bare 500: ``params`` that is not a JSON
    object, a task (the path's, or a ``params`` ``model`` that replaces it) the server does not have (404), no
    image at all."""
    from fastapi import HTTPException
    from monailabel.interfaces.utils.app import app_instance

    try:
        parsed = json.loads(params) if isinstance(params, str) and params.strip() else {}
    except json.JSONDecodeError as err:
        raise HTTPException(status_code=400, detail=f"params must be a JSON object: {err}.") from err
    if not isinstance(parsed, dict):
        raise HTTPException(status_code=400, detail=f"params must be a JSON object, got {type(parsed).__name__}.")
    task = parsed.get("model", model)
    tasks = app_instance().served_tasks  # the app's own list: info() would list the datastore at every request
    if task not in tasks:
        raise HTTPException(
            status_code=404, detail=f"no task {task!r} on this server; its tasks are {', '.join(tasks)}."
        )
    if not (file or image or session_id):
        raise HTTPException(status_code=400, detail="the request names no image: give image=ID or upload a file.")


def check_unambiguous_id(studies: str, image_id: str) -> None:
    """Refuse (HTTP 409) a datastore image id that several files of a local studies folder share.

    MONAI Label names an image by its file name without the extension and serves one file per name
    (:func:`~monai_rmisr.monailabel.infer.files_of_image_id`): with ``ct.nii.gz`` and ``ct.png`` side by side,
    a request for ``ct`` would get one of them, whichever it listed last, while its user meant either. A
    DICOMweb datastore names series by their UIDs: nothing to check.
    """
    from fastapi import HTTPException
    from monailabel.config import settings

    if is_dicomweb(studies):
        return
    names = files_of_image_id(studies, image_id, settings.MONAI_LABEL_DATASTORE_FILE_EXT)
    if len(names) > 1:
        raise HTTPException(
            status_code=409,
            detail=f"image id '{image_id}' names {len(names)} files of the datastore ({', '.join(names)}), and MONAI "
            "Label serves only one of them under it: give each image a name of its own (rename all but one), or "
            "upload the file.",
        )


def is_dicomweb(studies: str) -> bool:
    """Whether a server's studies (``--studies``) are a DICOMweb server's root, not a folder."""
    return str(studies).startswith(("http://", "https://"))


def guard_datastore_endpoints() -> None:
    """Make MONAI Label's ``/datastore`` endpoints read-only and keep their reads inside the studies folder.

    MONAI Label 0.8.5 lets any client upload (``PUT /datastore/image?image=ID``, where an ``ID`` with ``../``
    writes outside the studies folder, at the path it names), delete (``DELETE /datastore/image``) and relabel
    images, without authentication by default. A super-resolution server stores nothing: every write answers
    403. ``GET /datastore/image`` and ``/image/info`` (and the label ones) follow a link in the studies folder
    to a file elsewhere; here such an image gets the same 403 as ``/infer`` gives it
    (:func:`~monai_rmisr.monailabel.infer.not_in_datastore`), before the file is opened. The endpoint
    functions are wrapped once per process, as :func:`guard_infer_endpoint` does.
    """
    from fastapi import HTTPException
    from monailabel.endpoints import datastore as endpoint
    from monailabel.interfaces.utils.app import app_instance

    if getattr(endpoint, "rmisr_guard", False):
        return

    def refused(*args: Any, **kwargs: Any) -> None:
        raise HTTPException(
            status_code=403,
            detail="this server super-resolves images and stores none: its datastore is read-only (no upload, "
            "delete or edit); send an image to /infer as a file instead.",
        )

    def reading(function: Any, uri_of: Any, info: bool = False) -> Any:
        @functools.wraps(function)
        def guarded(*args: Any, **kwargs: Any) -> Any:
            studies = root()
            what = args[0] if args else next(iter(kwargs.values()), "")
            if not is_dicomweb(studies):  # a DICOMweb datastore's files are its own cache
                uri = uri_of(*args, **kwargs)
                if elsewhere(uri):
                    raise HTTPException(status_code=403, detail=str(not_in_datastore(what)))
                if uri and uri_of is image_uri:
                    check_unambiguous_id(studies, what)
            answer = function(*args, **kwargs)  # an unknown id (uri "") is the endpoint's own 404
            if info and isinstance(answer, dict):  # MONAI Label adds the file's path on the server
                if not answer:  # an unknown id: its {} said nothing, where /infer and the download refuse it
                    raise HTTPException(status_code=404, detail=f"{what!r} is no id of this server's datastore.")
                answer = {key: value for key, value in answer.items() if key != "path"}
            return answer

        return guarded

    def listing(function: Any) -> Any:
        @functools.wraps(function)
        def guarded(output: Any = None) -> Any:
            kind = str(getattr(output, "value", output))
            if kind == "train":  # image and label pairs by their server paths
                raise HTTPException(
                    status_code=403,
                    detail="this server trains nothing: the datastore's training list (output=train) is not served; "
                    "output=all lists its images.",
                )
            answer = function(output)
            if kind != "all" or not isinstance(answer, dict):
                return answer
            if not is_dicomweb(root()):  # leave out what every use refuses: a link to a file elsewhere
                listed = (answer.get("objects") or {}).items()
                objects = {key: value for key, value in listed if not elsewhere(image_uri(key))}
                answer = {**answer, "objects": objects}
            else:  # MONAI Label lists only the series already in its local cache: none until a request names one
                try:
                    series = app_instance().datastore().list_images()  # QIDO-RS, with MONAI Label's search filter
                except requests.RequestException as err:
                    detail = f"the datastore's server did not answer: {err}"
                    raise HTTPException(status_code=502, detail=detail) from err
                objects = dict(answer.get("objects") or {})
                for uid in series:
                    objects.setdefault(uid, {"image": {"info": {}}, "labels": {}})
                answer = {**answer, "objects": objects}
            return answer

        return guarded

    for name in DATASTORE_WRITES:
        setattr(endpoint, name, refused)

    def root() -> str:
        return str(app_instance().studies)

    def elsewhere(uri: Any) -> bool:
        """Whether a folder datastore's file (its path) lies outside the studies folder: a link to a file elsewhere."""
        folder = os.path.realpath(root())
        return isinstance(uri, str) and bool(uri) and os.path.commonpath([os.path.realpath(uri), folder]) != folder

    def image_uri(image: str, *args: Any, **kwargs: Any) -> Any:
        return app_instance().datastore().get_image_uri(image)

    def label_uri(label: str, tag: str, *args: Any, **kwargs: Any) -> Any:
        return app_instance().datastore().get_label_uri(label, tag)

    endpoint.download_image = reading(endpoint.download_image, image_uri)
    endpoint.get_image_info = reading(endpoint.get_image_info, image_uri, info=True)
    endpoint.download_label = reading(endpoint.download_label, label_uri)
    endpoint.get_label_info = reading(endpoint.get_label_info, label_uri, info=True)
    endpoint.datastore = listing(endpoint.datastore)
    endpoint.rmisr_guard = True  # type: ignore[attr-defined]


#: (methods, path pattern) of the MONAI Label endpoints this server answers (after MONAI Label's API prefix and the
#: ASGI root path); every other request is a 403 before MONAI Label sees it (:func:`serve_only_super_resolution`).
SERVED_ENDPOINTS: tuple[tuple[frozenset[str], re.Pattern[str]], ...] = tuple(
    (frozenset(methods.split()), re.compile(pattern))
    for methods, pattern in (
        ("GET HEAD", r"/|/docs|/openapi\.json|/favicon\.ico|/static/.*"),  # the API's own pages
        ("GET HEAD", r"/info/?"),
        ("POST", r"/infer/[^/]+"),  # one task; not /infer/wsi_v2/... (whole-slide tiling of label maps)
        ("GET HEAD", r"/datastore/?|/datastore/(image|label)(/info)?"),  # reads, kept inside the studies folder
        ("GET POST", r"/auth/?|/auth/token(/valid)?"),  # MONAI Label's login, where authentication is on
    )
)


def _served(method: str, path: str) -> bool:
    return method == "OPTIONS" or any(
        method in methods and pattern.fullmatch(path) for methods, pattern in SERVED_ENDPOINTS
    )  # OPTIONS: a CORS preflight, answered (or refused) by MONAI Label's CORS middleware


def serve_only_super_resolution(app: Any, api_prefix: str = "") -> None:
    """Make the MONAI Label server ``app`` (its FastAPI application) answer only :data:`SERVED_ENDPOINTS`; any
    other request is an HTTP 403 that names it, before MONAI Label's routing.

    MONAI Label 0.8.5 serves more than this app uses, without authentication by default, and some of it
    reaches past the datastore: ``/proxy/dicom/...`` passes any DICOMweb request to a DICOMweb datastore's
    server with the server's credentials (every patient of the PACS, read and write: its ``qido``, ``wado`` and
    ``stow``); ``/batch/infer`` takes a ``label_tag`` that is a folder anywhere on the server's disk and writes
    a result of every datastore image there; ``/session`` stores uploads under the server user's home,
    ``/model`` replaces a task's weights, ``/logs`` returns the server's log (paths and every request's
    parameters), ``/reload`` rebuilds the app, ``/train``, ``/activelearning`` and ``/scoring`` run jobs the app
    does not have, ``/datastore/dataset`` zips the whole datastore, ``/ohif`` is a viewer that needs the proxy.
    Wraps the application's built middleware (Starlette's ``middleware_stack``, building it if it is not built
    yet), once; MONAI Label has no hook for it (routers cannot be taken out of a FastAPI application).
    """
    stack = app.middleware_stack if app.middleware_stack is not None else app.build_middleware_stack()
    if getattr(stack, "rmisr_guard", False):
        return

    async def guarded(scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] == "http":
            path = scope["path"]
            root = scope.get("root_path", "")
            if root and path.startswith(root):
                path = path[len(root) :] or "/"
            if api_prefix and path.startswith(api_prefix):
                path = path[len(api_prefix) :] or "/"
            if not _served(scope["method"], path):
                from starlette.responses import JSONResponse

                detail = (
                    f"{scope['method']} {path} is not served: this server super-resolves images (POST /infer/TASK, "
                    "GET /info/, reads of /datastore); MONAI Label's training, batch inference, sessions, model "
                    "upload, logs, DICOMweb proxy and datastore writes are turned off (docs/monailabel.md)."
                )
                await JSONResponse({"detail": detail}, status_code=403)(scope, receive, send)
                return
        await stack(scope, receive, send)

    guarded.rmisr_guard = True  # type: ignore[attr-defined]
    app.middleware_stack = guarded


def asks_to_save_label(value: Any) -> bool:
    """Whether a request's ``save_label`` asks MONAI Label to store the result (at the client's ``label_tag``).

    Missing, empty, or a false word that :func:`~monai_rmisr.config.config_flag` reads (false, no, off, 0) is
    no; anything else is yes, text that is neither true nor false included (MONAI Label saves for any truthy value).
    """
    if not value:
        return False
    try:
        return config_flag(value, "save_label")
    except ValueError:
        return True


class RMISRApp(MONAILabelApp):
    """The app: ``python -m monai_rmisr.monailabel start_server --app apps/monailabel --studies DIR``.

    ``--conf models rmisr_x2,rmisr_x4`` offers only those tasks (default: every task whose
    weights are shipped); ``--conf max_output_pixels N`` sets the largest result (default
    :data:`~monai_rmisr.monailabel.infer.MAX_OUTPUT_PIXELS`); each task's default network is loaded
    and run once on a tiny image at start-up (:meth:`SuperResolutionTask.warm_up`), so that the
    first request is as fast as the next ones, unless ``--conf warm_up false``. No training tasks
    (train with the bundle, docs/training.md).

    The tasks serve only the datastore's images and uploads, share one
    :class:`~monai_rmisr.monailabel.infer.NetworkCache`, and a ``params`` ``image`` beside an
    upload is refused (:func:`guard_infer_endpoint`); the datastore is read-only and its reads stay
    inside the studies folder (:func:`guard_datastore_endpoints`).

    With a DICOMweb datastore (``--studies http://.../dicom-web``) a series is read as its DICOM
    files, and the result is a derived series (:meth:`init_datastore`); dcmqi is not downloaded
    (:meth:`_download_dcmqi_tools`), so the server starts offline.
    """

    def __init__(self, app_dir: str, studies: str, conf: dict[str, str]):
        conf = conf or {}
        wanted = [name.strip() for name in str(conf.get("models", "")).split(",") if name.strip()]
        unknown = sorted(set(wanted) - set(TASKS))
        if unknown:
            raise ValueError(f"--conf models: unknown task(s) {', '.join(unknown)}; the tasks are {', '.join(TASKS)}.")
        self.task_names = wanted or list(TASKS)
        self.max_output_pixels = conf.get("max_output_pixels", MAX_OUTPUT_PIXELS)  # checked by the tasks
        self.warm_up = config_flag(conf.get("warm_up", True), "conf warm_up")
        self.networks = NetworkCache()
        guard_infer_endpoint()
        guard_datastore_endpoints()
        super().__init__(
            app_dir=app_dir,
            studies=studies,
            conf=conf,
            name="monai-rmisr",
            description="RMISR medical image super-resolution (x2, x3, x4, RMISR-VP x4, any scale)",
            version=__version__,
        )
        # the served tasks' networks only (those whose weights loaded; a copied app's own tasks too): a request's
        # 'network' cannot load one the server was not started with
        tasks = [task for task in self._infers.values() if isinstance(task, SuperResolutionTask)]
        self.networks.offer(task.network for task in tasks)

    def server_mode(self, mode: bool) -> None:
        """MONAI Label's start-up calls this (with ``True``) once its server is built: here the server is made to
        answer only what this app serves (:func:`serve_only_super_resolution`)."""
        super().server_mode(mode)
        if mode:
            from monailabel import app as server
            from monailabel.config import settings

            serve_only_super_resolution(server.app, settings.MONAI_LABEL_API_STR)

    def init_datastore(self) -> Any:
        """MONAI Label's datastore; a DICOMweb one hands the tasks a series as its folder of DICOM files.

        MONAI Label 0.8.5 converts a DICOMweb series to NIfTI by default
        (``MONAI_LABEL_DICOMWEB_CONVERT_TO_NIFTI``), and the result would then be NIfTI: without the
        patient, study and series of the source, so nothing a PACS could take back. Here the
        datastore is made with that setting off, whatever the environment says (the setting is
        restored afterwards), and the tasks read the series itself: the result is a derived series
        of the same study (a ``.zip`` of its files).
        """
        from monailabel.config import settings

        convert = settings.MONAI_LABEL_DICOMWEB_CONVERT_TO_NIFTI
        settings.MONAI_LABEL_DICOMWEB_CONVERT_TO_NIFTI = False
        try:
            datastore = super().init_datastore()
        finally:
            settings.MONAI_LABEL_DICOMWEB_CONVERT_TO_NIFTI = convert
        if convert and is_dicomweb(self.studies):
            logger.info(
                "rmisr: DICOMweb series are read as DICOM, not converted to NIfTI (this app does not use "
                "MONAI_LABEL_DICOMWEB_CONVERT_TO_NIFTI): a result is a derived series, sent as one .zip"
            )
        return datastore

    def _download_dcmqi_tools(self) -> None:
        """Do not download dcmqi: MONAI Label 0.8.5 fetches it from GitHub when a DICOMweb datastore starts,
        and the server dies at start-up where GitHub cannot be reached.

        dcmqi's :data:`DCMQI_TOOL` writes labels as DICOM SEG, which this app never makes
        (``output=dicom_seg`` is refused: :func:`guard_infer_endpoint`). A server that also saves
        final labels to the DICOMweb server (``PUT /datastore/label``) needs it: put it on ``PATH``
        or in the app folder's ``bin``, as MONAI Label would have.
        """
        if shutil.which(DCMQI_TOOL) or os.path.exists(os.path.join(self.app_dir, "bin", DCMQI_TOOL)):
            return
        logger.info(
            "rmisr: dcmqi (%s) is not installed and is not downloaded; this app writes no DICOM SEG "
            "(saving final labels to the DICOMweb server would need it on PATH)",
            DCMQI_TOOL,
        )

    def init_infers(self) -> dict[str, Any]:
        # the datastore's folder: the studies folder, or a DICOMweb datastore's local cache of series
        folder = getattr(self.datastore(), "_datastore_path", self.studies)
        tasks = {}
        for name in self.task_names:
            scale, model = TASKS[name]
            task = SuperResolutionTask(
                scale, model, datastore=folder, max_output_pixels=self.max_output_pixels, networks=self.networks
            )
            if task.is_valid():
                tasks[name] = task
                if self.warm_up:
                    logger.info("rmisr: task %s warmed up in %.2f s", name, task.warm_up())
            else:
                logger.warning("rmisr: task %s left out: the weights of %s are not there", name, model)
        self.served_tasks = sorted(tasks)  # what a request may name (checked without listing the datastore)
        return tasks

    def init_trainers(self) -> dict[str, Any]:
        return {}

    def infer(self, request: dict[str, Any], datastore: Any = None) -> dict[str, Any]:
        """MONAI Label's ``infer``, with an unknown image id refused as a path outside the datastore is.

        MONAI Label takes an ``image`` that is not an existing path for a datastore id and hands
        the task ``""`` for an unknown one (a DICOMweb datastore raises ``IndexError`` instead: a 500);
        a path outside the datastore that does not exist would then get another answer than one
        that does (a 403 from the task). All are this 403. A request to save the result as a label
        (``save_label``, which MONAI Label would write at the client's ``label_tag``, a folder anywhere on the
        server's disk) is a 403 too. The task gets the image as the client named it
        (:data:`~monai_rmisr.monailabel.infer.IMAGE_NAME_KEY`), for its messages.
        """
        from fastapi import HTTPException

        if asks_to_save_label(request.get("save_label")):
            raise HTTPException(
                status_code=403,
                detail="this server stores nothing (save_label): the result comes back in the answer; its "
                "datastore is read-only.",
            )
        image = request.get("image")
        by_id = isinstance(image, str) and image and not os.path.exists(image)  # as MONAI Label decides
        request = {key: value for key, value in request.items() if key != "label_tag"}
        request |= {
            "save_label": False,  # MONAI Label saves for any true value, the text "false" too: never asked of it
            IMAGE_NAME_KEY: "the uploaded file" if is_upload_request(request) else image,  # an id, or their path
        }
        if by_id:
            store = datastore or self.datastore()
            try:
                # a DICOMweb datastore downloads the series here, into its cache (MONAI Label reads it there next)
                uri = store.get_image_uri(image)
            except IndexError:  # MONAI Label's DICOMweb datastore: the server has no series of that UID
                uri = ""
            if not uri:
                raise HTTPException(status_code=403, detail=str(not_in_datastore(image)))
            check_unambiguous_id(str(self.studies), image)
        return super().infer(request, datastore)
