package main

import "testing"

// BenchmarkCreate creates sessions through the whole HTTP handler with every optional
// field set, the shape bench/create.lua sends.
func BenchmarkCreate(b *testing.B) {
	svc, _ := benchService(b)
	body := `{"query":"mutation($in: CreateConnectSessionInput!) { createConnectSession(input: $in) { token connectSession { id status createdAt expiresAt } } }","variables":{"in":{"organizationId":1,"projectId":"demo","originOwnerId":"org_100042","originOwnerName":"Customer Company 42","originUsername":"user42@customer42.example.com","provider":"hibob","categories":["HRIS","ATS"],"accountId":"acct_500042","label":"HR system 42","metadata":{"plan":"growth","seats":42},"multiple":false}}}`
	serveBench(b, svc.handler, issueBenchKey(b, svc), body)
}
