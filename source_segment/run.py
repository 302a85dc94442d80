"""The `source-segment` command: the CDK's entrypoint, with our config validation ahead of the spec check.

The CDK checks `check`'s config against the spec's JSON schema before the source runs, and answers with
the schema library's words ("0 is less than the minimum of 1"), naming neither the field nor the fix.
`discover` and `read` skip that check (`check_config_against_spec = False`) and validate in
`parse_config`. Running `parse_config` first here gives all three commands the same message.
"""

import sys
from typing import Any, List, Mapping, Optional

from airbyte_cdk.entrypoint import AirbyteEntrypoint
from airbyte_cdk.logger import PRINT_BUFFER
from airbyte_cdk.models import ConnectorSpecification, FailureType
from airbyte_cdk.utils.traced_exception import AirbyteTracedException
from jsonschema import ValidationError, validate

from source_segment.config import parse_config
from source_segment.source import SourceSegment


class SegmentEntrypoint(AirbyteEntrypoint):
    @staticmethod
    def validate_connection(source_spec: ConnectorSpecification, config: Mapping[str, Any]) -> None:
        parse_config(config)  # raises a ConfigError naming the field and the fix
        try:
            validate(instance=config, schema=source_spec.connectionSpecification)
        except ValidationError as error:
            # parse_config accepted what the spec refuses: a gap between the two (unit_tests/test_config.py
            # guards against it). Still name the field, and never echo the value, which may be the token.
            field = ".".join(str(part) for part in error.absolute_path) or "config"
            message = (
                f"Invalid configuration: `{field}` does not match the connector's spec ({error.validator}: "
                f"{error.validator_value!r}). Set it as the field's description says."
            )
            raise AirbyteTracedException(message=message, internal_message=message, failure_type=FailureType.config_error) from None


def run(args: Optional[List[str]] = None) -> None:
    args = sys.argv[1:] if args is None else args
    try:
        entrypoint = SegmentEntrypoint(SourceSegment())
        parsed_args = entrypoint.parse_args(args)
        with PRINT_BUFFER:  # as the CDK's launch() does, so each message is printed whole
            for message in entrypoint.run(parsed_args):
                print(f"{message}\n", end="")
    except AirbyteTracedException as error:
        if error.failure_type != FailureType.config_error:
            raise
        # A config error is the user's to fix: emit its message as a TRACE, without the
        # stack trace the CDK's uncaught-exception hook would log next to it.
        AirbyteTracedException(
            message=error.message, internal_message=error.message, failure_type=FailureType.config_error
        ).emit_message()
        sys.exit(1)


if __name__ == "__main__":
    run()
