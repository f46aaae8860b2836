"""The Temporal side: a connection from Temporal's environment configuration, the start of an eval
under its TypeScript workflow id, and a handle on it whose failures are typed exceptions."""

from __future__ import annotations

import asyncio
import os
import time
from dataclasses import dataclass, fields
from typing import Any

from temporalio.api.enums.v1 import IndexedValueType
from temporalio.api.operatorservice.v1 import AddSearchAttributesRequest, ListSearchAttributesRequest
from temporalio.client import Client, WorkflowFailureError, WorkflowHandle
from temporalio.common import (
    SearchAttributeKey,
    SearchAttributePair,
    TypedSearchAttributes,
    WorkflowIDConflictPolicy,
    WorkflowIDReusePolicy,
)
from temporalio.envconfig import ClientConfig
from temporalio.exceptions import (
    ActivityError,
    ApplicationError,
    CancelledError,
    ChildWorkflowError,
    FailureError,
    TerminatedError,
    TimeoutError,
    WorkflowAlreadyStartedError,
)
from temporalio.service import RPCError, RPCStatusCode

from ._exit import settle_temporal_threads_at_exit
from ._generated import CONTRACT
from .errors import BadInputError, EvalCancelledError, EvalFailedError, EvalTerminatedError, UnreachableError
from .sync import run_sync
from .workflow_id import eval_workflow_id, search_attributes, summary

# Every client this process makes, its own or the caller's, lives on the SDK's Rust threads.
settle_temporal_threads_at_exit()

# The Temporal server's default address, as the `temporal` CLI and the SDKs use it.
DEFAULT_ADDRESS = "localhost:7233"
# How long a namespace may take to serve attributes just registered (its frontends' cache).
_SERVED_WITHIN_S = 30
# gRPC codes of a caller that may not register attributes, or a server that takes no operator calls.
_NOT_ALLOWED = {RPCStatusCode.PERMISSION_DENIED, RPCStatusCode.UNIMPLEMENTED, RPCStatusCode.UNAUTHENTICATED}
# Failure types the worker raises (src/errors.ts) and the exception each becomes here.
_FAILURE_TYPES = {"BadInputError": BadInputError, "Unreachable": UnreachableError}


async def connect() -> Client:
    """A client of the server Temporal's environment configuration names: TEMPORAL_ADDRESS,
    TEMPORAL_NAMESPACE, TEMPORAL_API_KEY, TEMPORAL_TLS*, or a TEMPORAL_PROFILE of temporal.toml
    (TEMPORAL_CONFIG_FILE), as the `temporal` CLI and evsys's TypeScript side read them."""
    config = ClientConfig.load_client_connect_config()
    config.setdefault("target_host", DEFAULT_ADDRESS)
    try:
        return await Client.connect(**config)
    except RuntimeError as err:
        raise UnreachableError(f"the Temporal server at {config['target_host']} is not reachable ({err}); "
                               "start it, or point TEMPORAL_ADDRESS at one") from err


def task_queue_of(task_queue: str | None) -> str:
    return task_queue or os.environ.get("EVSYS_TASK_QUEUE") or CONTRACT["default_task_queue"]


@dataclass(frozen=True)
class EvalProgress:
    """The workflow's `progress` query: counts only, cheap to poll."""

    phase: str
    tasks_total: int
    tasks_done: int
    tasks_failed: int
    samples_done: int
    samples_passed: int
    samples_errored: int
    samples_in_flight: int
    # While the sampler does not answer: {url, since, cause}.
    sampler_down: dict[str, str] | None = None
    # Tasks the eval leaves out (never scored), and those it scores that may fail for the environment.
    tasks_skipped: int = 0
    tasks_at_risk: int = 0


@dataclass(frozen=True)
class EvalResult:
    eval_id: str
    evaluator: str
    step: int
    benchmark: dict[str, Any]
    metrics: dict[str, float]
    # {status: skipped | ok | failed, ...}: where the results were uploaded.
    upload: dict[str, Any]


def _known_fields(cls: type, answer: dict[str, Any]) -> dict[str, Any]:
    """The fields this version knows: a newer worker may answer with more."""
    return {f.name: answer[f.name] for f in fields(cls) if f.name in answer}


def _root_cause(err: BaseException) -> BaseException:
    """The innermost failure: the activity's own error under the workflow's and the activity's wrappers."""
    while isinstance(err, (WorkflowFailureError, ActivityError, ChildWorkflowError)) and err.cause is not None:
        err = err.cause
    return err


def _typed(err: WorkflowFailureError, workflow_id: str) -> Exception:
    cause = _root_cause(err)
    message = cause.message if isinstance(cause, FailureError) else str(cause)
    if isinstance(cause, CancelledError):
        return EvalCancelledError(f"eval {workflow_id} was cancelled", workflow_id=workflow_id)
    if isinstance(cause, (TerminatedError, TimeoutError)):
        return EvalTerminatedError(f"eval {workflow_id} was terminated: {message}", workflow_id=workflow_id)
    kind = _FAILURE_TYPES.get(cause.type or "", EvalFailedError) if isinstance(cause, ApplicationError) else EvalFailedError
    return kind(f"eval {workflow_id} failed: {message}", workflow_id=workflow_id)


class EvalHandle:
    """A started eval: its progress while it runs, its result, a way to cancel it."""

    def __init__(self, handle: WorkflowHandle[Any, Any]) -> None:
        self._handle = handle
        self.workflow_id: str = handle.id

    async def progress(self) -> EvalProgress:
        """Where the eval is. Right after the start, before its first workflow task has run, the
        server may refuse the query: ask again."""
        answer = await self._handle.query(CONTRACT["progress_query"])
        return EvalProgress(**_known_fields(EvalProgress, answer))

    async def result(self) -> EvalResult:
        """Waits for the eval to end; a failed one raises BadInputError, UnreachableError or EvalFailedError."""
        try:
            result = await self._handle.result()
        except WorkflowFailureError as err:
            raise _typed(err, self.workflow_id) from err
        return EvalResult(**_known_fields(EvalResult, result))

    async def cancel(self) -> None:
        """Cancels the eval; its finished samples stay in the ledger (`evsys retry` finishes it)."""
        await self._handle.cancel()

    def progress_sync(self) -> EvalProgress:
        return run_sync(self.progress())

    def result_sync(self) -> EvalResult:
        return run_sync(self.result())

    def cancel_sync(self) -> None:
        run_sync(self.cancel())


async def _serves_attributes(client: Client) -> bool:
    """True once a visibility query naming every attribute is accepted: the namespace serves them."""
    query = " AND ".join(f"{name} IS NULL" for name in CONTRACT["search_attributes"])
    try:
        await client.count_workflows(query)
        return True
    except RPCError as err:
        if err.status == RPCStatusCode.INVALID_ARGUMENT:
            return False
        raise


def _not_allowed(err: RPCError, namespace: str, names: list[str]) -> Exception:
    if err.status not in _NOT_ALLOWED:
        return err
    return UnreachableError(
        f'namespace "{namespace}" lacks evsys\'s search attributes ({", ".join(names)}) and this caller may not register them '
        f"({err.message}): an operator registers them once (docs/operations.md, \"On a production cluster\")")


async def ensure_search_attributes(client: Client) -> None:
    """Makes sure the namespace serves evsys's search attributes, so the start may set them: one
    query when it does; else registered here and waited for, as src/temporal/search-attributes.ts."""
    if await _serves_attributes(client):
        return
    wanted = CONTRACT["search_attributes"]
    try:
        existing = await client.operator_service.list_search_attributes(ListSearchAttributesRequest(namespace=client.namespace))
    except RPCError as err:
        raise _not_allowed(err, client.namespace, list(wanted)) from err
    missing = {name: kind for name, kind in wanted.items() if name not in existing.custom_attributes}
    if missing:
        kinds = {"INT": IndexedValueType.INDEXED_VALUE_TYPE_INT, "KEYWORD": IndexedValueType.INDEXED_VALUE_TYPE_KEYWORD}
        try:
            await client.operator_service.add_search_attributes(AddSearchAttributesRequest(
                namespace=client.namespace, search_attributes={name: kinds[kind] for name, kind in missing.items()}))
        except RPCError as err:
            raise _not_allowed(err, client.namespace, list(missing)) from err
    deadline = time.monotonic() + _SERVED_WITHIN_S
    while not await _serves_attributes(client):
        if time.monotonic() > deadline:
            raise UnreachableError(f'evsys\'s search attributes are registered in namespace "{client.namespace}", '
                                   f"but it did not serve them within {_SERVED_WITHIN_S} s; try again")
        await asyncio.sleep(0.25)


def _typed_attributes(input_: dict[str, Any]) -> TypedSearchAttributes:
    kinds = CONTRACT["search_attributes"]
    pairs: list[SearchAttributePair[Any]] = []
    for name, value in search_attributes(input_).items():
        key = SearchAttributeKey.for_int(name) if kinds[name] == "INT" else SearchAttributeKey.for_keyword(name)
        pairs.append(SearchAttributePair(key, value))
    return TypedSearchAttributes(pairs)


async def start_or_attach(client: Client, input_: dict[str, Any], task_queue: str | None = None) -> EvalHandle:
    """Starts the eval, or attaches to the one with its id that is running or has completed. A
    failed, cancelled or terminated one is started again under the same id: it shares the ledger
    and draws only the samples it lacks (as src/client/start-eval.ts)."""
    workflow_id = eval_workflow_id(input_)
    await ensure_search_attributes(client)
    try:
        handle = await client.start_workflow(
            CONTRACT["workflow_type"],
            input_,
            id=workflow_id,
            task_queue=task_queue_of(task_queue),
            id_conflict_policy=WorkflowIDConflictPolicy.USE_EXISTING,
            id_reuse_policy=WorkflowIDReusePolicy.ALLOW_DUPLICATE_FAILED_ONLY,
            search_attributes=_typed_attributes(input_),
            static_summary=summary(input_),
        )
    except WorkflowAlreadyStartedError:
        handle = client.get_workflow_handle(workflow_id)
    return EvalHandle(handle)
