{{/*
The processes, from their entry points and config.ts (ports are the
defaults there; admin ports per docs/adr/0016-admin-listeners.md).
`listeners`: the service listeners, each with the prefix of its
<PREFIX>_PORT / <PREFIX>_HOST variables; `secretFiles`: the Secret keys
mounted as files for it; `artifacts`: the published artifacts it reads;
`egress`: the dependencies it connects to (networkPolicy.egress);
`exposed`: its listeners the ingress controller reaches; `fromGateway`:
its listeners the gateway calls.
*/}}
{{- define "coherence.components" -}}
gateway:
  egress: [postgres, redis, unleash, identityProvider]
  exposed: [http]
  fromGateway: []
  values: gateway
  entry: gateway/src/main.ts
  admin: { prefix: GATEWAY_ADMIN, port: 4100 }
  listeners: [{ name: http, prefix: GATEWAY, port: 4000 }]
  secretFiles: [internalSigningKey, policyPublicKey, manifestPublicKey]
  artifacts: [manifest, policyBundle]
ingest:
  egress: [postgres, redis, identityProvider]
  exposed: [http]
  fromGateway: [graphql]
  values: ingest
  entry: subgraphs/ingest/src/main.ts
  admin: { prefix: INGEST_ADMIN, port: 4101 }
  listeners: [{ name: http, prefix: INGEST, port: 4001 }, { name: graphql, prefix: INGEST_SUBGRAPH, port: 4021 }]
  secretFiles: [internalJwks, policyPublicKey]
  artifacts: [policyBundle]
ingest-consumer:
  egress: [postgres, kafka]
  exposed: []
  fromGateway: []
  values: ingestConsumer
  entry: subgraphs/ingest/src/consumer/main.ts
  admin: { prefix: INGEST_CONSUMER_ADMIN, port: 4111 }
  listeners: []
  secretFiles: [policyPublicKey]
  artifacts: [policyBundle]
coherence:
  egress: [postgres, neo4j]
  exposed: []
  fromGateway: [graphql]
  values: coherence
  entry: subgraphs/coherence/src/main.ts
  admin: { prefix: COHERENCE_ADMIN, port: 4102 }
  listeners: [{ name: graphql, prefix: COHERENCE, port: 4002 }]
  secretFiles: [internalJwks]
  artifacts: []
relay:
  egress: [postgres, neo4j, redis]
  exposed: []
  fromGateway: []
  values: relay
  entry: subgraphs/coherence/src/relay/main.ts
  admin: { prefix: RELAY_ADMIN, port: 4110 }
  listeners: []
  secretFiles: []
  artifacts: []
comms:
  egress: [postgres]
  exposed: [inbound]
  fromGateway: [graphql]
  values: comms
  entry: subgraphs/comms/src/main.ts
  admin: { prefix: COMMS_ADMIN, port: 4103 }
  listeners: [{ name: graphql, prefix: COMMS, port: 4003 }, { name: inbound, prefix: COMMS_INBOUND, port: 4013 }]
  secretFiles: [internalJwks]
  artifacts: []
comms-worker:
  egress: [postgres, redis, unleash, webhooks]
  exposed: []
  fromGateway: []
  values: commsWorker
  entry: subgraphs/comms/src/worker/main.ts
  admin: { prefix: COMMS_WORKER_ADMIN, port: 4112 }
  listeners: []
  secretFiles: [commsPolicyPublicKey]
  artifacts: [commsPolicyBundle]
{{- end -}}

{{/* Where the published artifacts and the secret files are mounted. */}}
{{- define "coherence.artifactMounts" -}}
manifest: /etc/coherence/manifest
policyBundle: /etc/coherence/policy-bundle
commsPolicyBundle: /etc/coherence/comms-policy-bundle
{{- end -}}
{{- define "coherence.secretDir" -}}/etc/coherence/secrets{{- end -}}

{{- define "coherence.fullname" -}}
{{- if contains .Chart.Name .Release.Name -}}
{{- .Release.Name | trunc 40 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name .Chart.Name | trunc 40 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}

{{/* Labels; call with (dict "root" $ "component" "gateway"). */}}
{{- define "coherence.selectorLabels" -}}
app.kubernetes.io/name: {{ .root.Chart.Name }}
app.kubernetes.io/instance: {{ .root.Release.Name }}
app.kubernetes.io/component: {{ .component }}
{{- end -}}
{{- define "coherence.labels" -}}
{{ include "coherence.selectorLabels" . }}
app.kubernetes.io/version: {{ .root.Values.image.tag | quote }}
app.kubernetes.io/managed-by: {{ .root.Release.Service }}
helm.sh/chart: {{ printf "%s-%s" .root.Chart.Name .root.Chart.Version }}
coherence.dev/region: {{ .root.Values.region }}
{{- end -}}

{{- define "coherence.image" -}}
{{ .Values.image.repository }}:{{ .Values.image.tag }}
{{- end -}}

{{/* An env entry from the chart's Secret; call with (dict "root" $ "name" "X" "key" "gatewayDatabaseUrl" "optional" false). */}}
{{- define "coherence.secretEnv" -}}
- name: {{ .name }}
  valueFrom:
    secretKeyRef:
      name: {{ .root.Values.secrets.existingSecret }}
      key: {{ index .root.Values.secrets.keys .key }}
      optional: {{ .optional | default false }}
{{- end -}}

{{/* The path of a secret file in the container; call with (dict "root" $ "key" "internalJwks"). */}}
{{- define "coherence.secretFile" -}}
{{ include "coherence.secretDir" . }}/{{ index .root.Values.secrets.keys .key }}
{{- end -}}

{{/* Non-root, read-only root filesystem, no privilege: every pod and container. */}}
{{- define "coherence.podSecurityContext" -}}
runAsNonRoot: true
runAsUser: {{ .Values.podSecurity.runAsUser }}
runAsGroup: {{ .Values.podSecurity.runAsGroup }}
fsGroup: {{ .Values.podSecurity.runAsGroup }}
seccompProfile:
  type: RuntimeDefault
{{- end -}}
{{- define "coherence.containerSecurityContext" -}}
runAsNonRoot: true
readOnlyRootFilesystem: true
allowPrivilegeEscalation: false
capabilities:
  drop: [ALL]
{{- end -}}
