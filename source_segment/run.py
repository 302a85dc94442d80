import sys

from airbyte_cdk.entrypoint import launch
from airbyte_cdk.models import FailureType
from airbyte_cdk.utils.traced_exception import AirbyteTracedException

from source_segment.source import SourceSegment


def run() -> None:
    try:
        launch(SourceSegment(), sys.argv[1:])
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
