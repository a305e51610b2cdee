// The demo's files, rendered for one cluster: the demo objects (deploy/demo/objects.yaml), the console's objects
// (deploy/demo/console.yaml) and the gateway file (deploy/demo/gateway.yaml with the console's processing unit
// from deploy/demo/console-gateway.yaml), each with this cluster's ports, IdP and client secret.
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { parse, stringify } from 'yaml';
import type { ClusterOptions, ClusterPorts } from './cluster.ts';

/** The demo objects with this cluster's ports, IdP and client secret. */
export async function renderDemoObjects(root: string, ports: ClusterPorts, idpUrl: string, clientSecret: string, outFile: string): Promise<void> {
  const doc = parse(await readFile(join(root, 'deploy/demo/objects.yaml'), 'utf8')) as {
    data: { services: Array<Record<string, unknown>>; externalnetworks?: Array<Record<string, unknown>> };
  };
  for (const network of doc.data.externalnetworks ?? []) if (network.name === 'demo-idp') network.servicePorts = [`tcp/${ports.idp}`];
  for (const service of doc.data.services) {
    service.exposedPort = ports.gateway;
    service.port = ports.app;
    service.OIDCProviderURL = idpUrl;
    service.OIDCClientSecret = clientSecret;
  }
  await writeFile(outFile, stringify(doc), { mode: 0o600 });
}

/** The console's objects (deploy/demo/console.yaml) with this cluster's ports, IdP and client secret. */
export async function renderConsoleObjects(root: string, ports: ClusterPorts, idpUrl: string, clientSecret: string, outFile: string): Promise<void> {
  const doc = parse(await readFile(join(root, 'deploy/demo/console.yaml'), 'utf8')) as {
    data: { services: Array<Record<string, unknown>>; externalnetworks: Array<Record<string, unknown>> };
  };
  for (const network of doc.data.externalnetworks) network.servicePorts = [`tcp/${ports.idp}`];
  for (const service of doc.data.services) {
    service.exposedPort = ports.console;
    service.port = ports.flowlog;
    service.OIDCProviderURL = idpUrl;
    service.OIDCClientSecret = clientSecret;
  }
  await writeFile(outFile, stringify(doc), { mode: 0o600 });
}

type GatewayFile = { exposedPorts: number[]; processingunits: Array<{ applicationPorts: number[] }> };

/**
 * The demo gateway file (deploy/demo/gateway.yaml) with this cluster's ports allowed, and any extra ones; and
 * the console's processing unit and port (deploy/demo/console-gateway.yaml), at flowlog's port.
 */
export async function renderGatewayFile(root: string, ports: ClusterPorts, extra: ClusterOptions['gatewayPorts'], outFile: string): Promise<void> {
  const doc = parse(await readFile(join(root, 'deploy/demo/gateway.yaml'), 'utf8')) as GatewayFile;
  const consoleUnits = (parse(await readFile(join(root, 'deploy/demo/console-gateway.yaml'), 'utf8')) as GatewayFile).processingunits;
  doc.exposedPorts = [ports.gateway, ports.walkthrough, ports.console, ...(extra?.exposed ?? [])];
  for (const unit of doc.processingunits) unit.applicationPorts = [ports.app, ...(extra?.application ?? [])];
  for (const unit of consoleUnits) unit.applicationPorts = [ports.flowlog];
  doc.processingunits.push(...consoleUnits);
  await writeFile(outFile, stringify(doc));
}
