"""The ghz configs in loadtest/ghz/ against a real server's reflection data, so they cannot rot.

ghz itself cannot run here; what it would do is repeated: resolve ``call`` through server
reflection, parse ``data`` into the method's input message, and send it.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import grpc
import pytest
from google.protobuf import descriptor_pool, json_format, message_factory
from google.protobuf.descriptor import MethodDescriptor
from grpc_reflection.v1alpha.proto_reflection_descriptor_database import (
    ProtoReflectionDescriptorDatabase,
)

from loadtest import ghz_run
from loadtest.lib import ghz

CONFIGS = ghz.load_configs()
SERVICES = (
    "eudi.connect.v1.CredentialService",
    "eudi.connect.v1.TemplateService",
    "eudi.connect.v1.TrustService",
)
#: Administration calls that change configuration: run again and again by a load tester
#: they answer ALREADY_EXISTS or NOT_FOUND after the first call, so they get no config.
NOT_LOAD_TESTED = frozenset(
    {
        "eudi.connect.v1.TemplateService.CreateTemplate",
        "eudi.connect.v1.TemplateService.UpdateTemplate",
        "eudi.connect.v1.TemplateService.DeleteTemplate",
        "eudi.connect.v1.TrustService.AddTrustedIssuer",
        "eudi.connect.v1.TrustService.RemoveTrustedIssuer",
        "eudi.connect.v1.TrustService.AddTrustAnchor",
        "eudi.connect.v1.TrustService.RemoveTrustAnchor",
    }
)


@pytest.fixture(scope="module")
def live() -> Iterator[tuple[str, dict[str, str]]]:
    """A credential service process on a free loopback port, and every placeholder's value."""
    with ghz_run.own_server(no_pin=True) as (address, api_key):
        yield address, ghz_run.prepare_values(address, api_key)


@pytest.fixture(scope="module")
def reflection(live: tuple[str, dict[str, str]]) -> Iterator[tuple[grpc.Channel, Any]]:
    """A channel and a descriptor pool that learns the service only through reflection."""
    with grpc.insecure_channel(live[0]) as channel:
        database = ProtoReflectionDescriptorDatabase(channel)
        yield channel, (database, descriptor_pool.DescriptorPool(database))


def test_every_rpc_has_a_config() -> None:
    """Each method of every service, as the generated descriptors list them, has a config,
    except the administration calls that change configuration."""
    from eudi.connect.v1 import credential_service_pb2, template_service_pb2, trust_service_pb2

    methods = {
        method.full_name
        for module in (credential_service_pb2, template_service_pb2, trust_service_pb2)
        for service in module.DESCRIPTOR.services_by_name.values()
        for method in service.methods
    }
    assert {service.rpartition(".")[0] for service in methods} == set(SERVICES)
    # A method may have several configs (IssueCredential: one per credential format).
    calls = {config["call"] for config in CONFIGS.values()}
    assert calls == methods - NOT_LOAD_TESTED


@pytest.mark.parametrize("name", list(CONFIGS))
def test_config_has_the_ghz_shape(name: str) -> None:
    """A config uses reflection (no proto), loopback, plaintext and only known placeholders."""
    config = CONFIGS[name]
    assert not {"proto", "protoset", "import-paths"} & set(config)
    assert config["insecure"] is True
    assert config["host"] == "127.0.0.1:50051"
    assert config["metadata"] == {"x-api-key": "${EUDI_CONNECT_API_KEY}"}
    assert isinstance(config["concurrency"], int)
    assert isinstance(config["total"], int)
    assert 1 <= config["concurrency"] <= config["total"]  # ghz refuses total < concurrency
    assert ghz.placeholders_in(config) <= set(ghz.PLACEHOLDERS)


@pytest.mark.parametrize("name", list(CONFIGS))
def test_config_resolves_parses_and_succeeds(
    name: str,
    live: tuple[str, dict[str, str]],
    reflection: tuple[grpc.Channel, Any],
) -> None:
    """`call` names a method found by reflection; `data` parses into its input and succeeds."""
    channel, (database, pool) = reflection
    config = ghz.substitute(CONFIGS[name], live[1])
    service_name, _, method_name = config["call"].rpartition(".")
    assert service_name in set(database.get_services())
    method: MethodDescriptor = pool.FindServiceByName(service_name).methods_by_name[method_name]
    request_class = message_factory.GetMessageClass(method.input_type)
    response_class = message_factory.GetMessageClass(method.output_type)

    def parse(data: Any) -> Any:
        # ignore_unknown_fields=False: a misspelt field must fail, as it does in ghz.
        return json_format.ParseDict(ghz.render_call_templates(data), request_class())

    if method.client_streaming:
        assert isinstance(config["data"], list)
        requests = [parse(item) for item in config["data"]]
    else:
        assert isinstance(config["data"], dict)
        requests = [parse(config["data"])]
    path = f"/{service_name}/{method_name}"
    metadata = tuple(config["metadata"].items())
    kwargs: dict[str, Any] = {
        "request_serializer": request_class.SerializeToString,
        "response_deserializer": response_class.FromString,
    }
    if method.client_streaming:
        responses = list(
            channel.stream_stream(path, **kwargs)(iter(requests), metadata=metadata, timeout=30)
        )
    elif method.server_streaming:
        responses = list(channel.unary_stream(path, **kwargs)(requests[0], metadata=metadata))
    else:
        responses = [channel.unary_unary(path, **kwargs)(requests[0], metadata=metadata)]
    assert responses
    for response in responses:
        if method.output_type.name == "IssueCredentialBatchResponse":
            assert response.results, "a streamed message carries at least one result"
            for result in response.results:
                assert result.WhichOneof("outcome") == "credential", result
        if method.output_type.name == "VerifyCredentialBatchResponse":
            assert response.results, "a streamed message carries at least one result"
            for result in response.results:
                assert result.result.valid, result
        if method.output_type.name == "VerifyCredentialResponse":
            assert response.valid, response.detail


def test_call_templates_are_rendered() -> None:
    """The ghz call templates the configs use become real values; unknown ones are refused."""
    rendered = ghz.render_call_templates({"a": "ghz-{{.UUID}}", "b": ["{{.RequestNumber}}"]}, 7)
    assert rendered["a"].startswith("ghz-")
    assert len(rendered["a"]) == 40
    assert rendered["b"] == ["7"]
    with pytest.raises(ValueError, match="unknown"):
        ghz.render_call_templates({"a": "{{.Nope}}"})
