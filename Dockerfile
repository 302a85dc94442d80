# Image for source-segment, in the shape of Airbyte's Python connector images:
# built FROM Airbyte's python-connector-base (the same image metadata.yaml declares), the package installed
# into the base image's Python, run as the base image's non-root `airbyte` user.
#
#   docker build -t airbyte/source-segment:dev .
#   docker run --rm airbyte/source-segment:dev spec
#   docker run --rm -v $PWD/secrets:/secrets airbyte/source-segment:dev check --config /secrets/config.json
#
# Offline builds: if the build context holds a `wheelhouse/` folder (from `pip wheel -w wheelhouse .`, so it
# holds the connector's own wheel too), pip installs from it with --no-index and never touches the network (scripts/image_test.sh does this,
# building FROM a locally made stand-in base with `--build-arg BASE_IMAGE=...`).

ARG BASE_IMAGE=docker.io/airbyte/python-connector-base:4.1.0@sha256:1d1aa21d34e851df4e8a87b391c27724c06e2597608e7161f4d167be853bd7b6

FROM ${BASE_IMAGE} AS builder
USER root
WORKDIR /airbyte/integration_code
# .dockerignore keeps this to pyproject.toml, README.md, source_segment/ and an optional wheelhouse/.
COPY . ./
RUN if [ -d wheelhouse ]; then \
        pip install --no-cache-dir --no-index --find-links wheelhouse source-segment ; \
    else \
        pip install --no-cache-dir . ; \
    fi

FROM ${BASE_IMAGE}
ARG BASE_IMAGE
# The base image's Python lives under /usr/local (a venv there in the stand-in base): take the installed
# package and its console script from the builder, without the build context or the wheelhouse.
COPY --from=builder /usr/local /usr/local
WORKDIR /airbyte/integration_code

LABEL io.airbyte.name="airbyte/source-segment" \
      io.airbyte.version="0.1.0" \
      org.opencontainers.image.title="source-segment" \
      org.opencontainers.image.description="Airbyte source for the Segment Public API" \
      org.opencontainers.image.licenses="MIT" \
      org.opencontainers.image.base.name="${BASE_IMAGE}"

ENV AIRBYTE_ENTRYPOINT="source-segment"
USER airbyte
ENTRYPOINT ["source-segment"]
