{{/*
Each process's environment, from its config.ts: the listeners' hosts and
ports, then what it connects to, then the tunables of values.<component>.env.
Call with (dict "root" $ "name" "gateway" "component" <its entry of coherence.components>).
*/}}
{{- define "coherence.env" -}}
{{- $root := .root -}}
{{- $v := $root.Values -}}
{{- $fullname := include "coherence.fullname" $root -}}
{{- $mounts := include "coherence.artifactMounts" $root | fromYaml -}}
- name: NODE_ENV
  value: production
- name: LOG_LEVEL
  value: {{ $v.logLevel | quote }}
{{- if $v.tracing.otlpEndpoint }}
- name: OTEL_EXPORTER_OTLP_ENDPOINT
  value: {{ $v.tracing.otlpEndpoint | quote }}
- name: OTEL_TRACES_SAMPLER_ARG
  value: {{ $v.tracing.samplingRatio | quote }}
- name: OTEL_RESOURCE_ATTRIBUTES
  value: cloud.region={{ $v.region }}
{{- end }}
{{- range .component.listeners }}
- name: {{ .prefix }}_PORT
  value: {{ .port | quote }}
- name: {{ .prefix }}_HOST
  value: 0.0.0.0
{{- end }}
- name: {{ .component.admin.prefix }}_PORT
  value: {{ .component.admin.port | quote }}
- name: {{ .component.admin.prefix }}_HOST
  value: 0.0.0.0
{{- if eq .name "gateway" }}
- name: SUBGRAPH_INGEST_URL
  value: http://{{ $fullname }}-ingest-subgraph:4021/graphql
- name: SUBGRAPH_COHERENCE_URL
  value: http://{{ $fullname }}-coherence:4002/graphql
- name: SUBGRAPH_COMMS_URL
  value: http://{{ $fullname }}-comms:4003/graphql
{{ include "coherence.secretEnv" (dict "root" $root "name" "GATEWAY_DATABASE_URL" "key" "gatewayDatabaseUrl") }}
{{ include "coherence.secretEnv" (dict "root" $root "name" "GATEWAY_REDIS_URL" "key" "redisUrl") }}
- name: GATEWAY_REGION
  value: {{ $v.region }}
- name: GATEWAY_JWKS
  value: {{ $v.auth.jwksUrl | quote }}
- name: GATEWAY_TOKEN_ISSUERS
  value: {{ join "," $v.auth.issuers | quote }}
- name: GATEWAY_INTERNAL_SIGNING_KEY
  value: {{ include "coherence.secretFile" (dict "root" $root "key" "internalSigningKey") }}
- name: GATEWAY_POLICY_PUBLIC_KEY
  value: {{ include "coherence.secretFile" (dict "root" $root "key" "policyPublicKey") }}
- name: GATEWAY_MANIFEST_PUBLIC_KEY
  value: {{ include "coherence.secretFile" (dict "root" $root "key" "manifestPublicKey") }}
{{- if $v.artifacts.manifest }}
- name: GATEWAY_MANIFEST_PATH
  value: {{ $mounts.manifest }}/manifest.json
{{- end }}
{{- if $v.artifacts.policyBundle }}
- name: GATEWAY_POLICY_BUNDLE_DIR
  value: {{ $mounts.policyBundle }}
{{- end }}
{{ include "coherence.flagsEnv" $root }}
{{- end }}
{{- if or (eq .name "ingest") (eq .name "ingest-consumer") }}
{{ include "coherence.secretEnv" (dict "root" $root "name" "INGEST_DATABASE_URL" "key" "ingestDatabaseUrl") }}
- name: INGEST_REGION
  value: {{ $v.region }}
- name: INGEST_DEFAULT_RESIDENCY
  value: {{ $v.region }}
- name: INGEST_POLICY_PUBLIC_KEY
  value: {{ include "coherence.secretFile" (dict "root" $root "key" "policyPublicKey") }}
{{- if $v.artifacts.policyBundle }}
- name: INGEST_POLICY_BUNDLE_DIR
  value: {{ $mounts.policyBundle }}
{{- end }}
{{- end }}
{{- if eq .name "ingest" }}
{{ include "coherence.secretEnv" (dict "root" $root "name" "INGEST_REDIS_URL" "key" "redisUrl") }}
- name: INGEST_JWKS
  value: {{ $v.auth.jwksUrl | quote }}
- name: INGEST_TOKEN_ISSUERS
  value: {{ join "," $v.auth.issuers | quote }}
{{- end }}
{{- if eq .name "ingest-consumer" }}
- name: KAFKA_BROKERS
  value: {{ join "," $v.kafka.brokers | quote }}
{{- end }}
{{- if eq .name "coherence" }}
{{ include "coherence.secretEnv" (dict "root" $root "name" "COHERENCE_DATABASE_URL" "key" "coherenceDatabaseUrl") }}
{{ include "coherence.secretEnv" (dict "root" $root "name" "COHERENCE_READ_REPLICAS" "key" "coherenceReadReplicas" "optional" true) }}
{{- end }}
{{- if eq .name "relay" }}
{{ include "coherence.secretEnv" (dict "root" $root "name" "RELAY_DATABASE_URL" "key" "relayDatabaseUrl") }}
{{ include "coherence.secretEnv" (dict "root" $root "name" "REDIS_URL" "key" "redisUrl") }}
{{- end }}
{{- if or (eq .name "coherence") (eq .name "relay") }}
- name: NEO4J_URL
  value: {{ $v.neo4j.url | quote }}
- name: NEO4J_USER
  value: {{ $v.neo4j.user | quote }}
{{ include "coherence.secretEnv" (dict "root" $root "name" "NEO4J_PASSWORD" "key" "neo4jPassword" "optional" true) }}
{{- end }}
{{- if or (eq .name "comms") (eq .name "comms-worker") }}
{{ include "coherence.secretEnv" (dict "root" $root "name" "COMMS_DATABASE_URL" "key" "commsDatabaseUrl") }}
{{- end }}
{{- if eq .name "comms" }}
{{ include "coherence.secretEnv" (dict "root" $root "name" "COMMS_ADMIN_DATABASE_URL" "key" "commsAdminDatabaseUrl" "optional" true) }}
{{ include "coherence.secretEnv" (dict "root" $root "name" "COMMS_TWILIO_AUTH_TOKEN" "key" "twilioAuthToken" "optional" true) }}
- name: COMMS_PUBLIC_URL
  value: {{ $v.comms.publicUrl | quote }}
{{- end }}
{{- if eq .name "comms-worker" }}
{{ include "coherence.secretEnv" (dict "root" $root "name" "REDIS_URL" "key" "redisUrl") }}
- name: COMMS_REGION
  value: {{ $v.region }}
- name: COMMS_POLICY_PUBLIC_KEY
  value: {{ include "coherence.secretFile" (dict "root" $root "key" "commsPolicyPublicKey") }}
{{- if $v.artifacts.commsPolicyBundle }}
- name: COMMS_POLICY_BUNDLE_DIR
  value: {{ $mounts.commsPolicyBundle }}
{{- end }}
{{ include "coherence.flagsEnv" $root }}
{{- end }}
{{- if has "internalJwks" .component.secretFiles }}
- name: SUBGRAPH_INTERNAL_JWKS
  value: {{ include "coherence.secretFile" (dict "root" $root "key" "internalJwks") }}
{{- end }}
{{- range $name, $value := (index $v .component.values).env }}
- name: {{ $name }}
  value: {{ $value | quote }}
{{- end }}
{{- end -}}

{{/* The feature-flag variables (packages/flags/src/config.ts) of the gateway and the comms worker. */}}
{{- define "coherence.flagsEnv" -}}
- name: FLAGS_BOOTSTRAP
  value: {{ .Values.flags.bootstrap | quote }}
- name: UNLEASH_REFRESH_INTERVAL_MS
  value: {{ .Values.unleash.refreshIntervalMs | quote }}
{{- if .Values.unleash.url }}
- name: UNLEASH_URL
  value: {{ .Values.unleash.url | quote }}
{{ include "coherence.secretEnv" (dict "root" . "name" "UNLEASH_API_TOKEN" "key" "unleashApiToken") }}
{{- end }}
{{- end -}}
