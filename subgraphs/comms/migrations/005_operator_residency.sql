-- The operator API answers only for the tenants residing in the region of the
-- gateway that asked (docs/adr/0010-operator-residency.md): its queries filter
-- commands on `tenants.residency`. `tenants` is the gateway's table (its
-- migrations run before these); its rows are scoped to `app.tenant_id`, so the
-- transactions that declare operator access (`app.comms_operator`, as for
-- every comms table in 002) may now read them too, and only read them.
CREATE POLICY comms_operator ON tenants FOR SELECT
  USING (current_setting('app.comms_operator', true) = 'on');
