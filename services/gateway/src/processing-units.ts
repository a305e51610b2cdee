// The gateway's own file: the processing units it fronts and the ports it may use. The ports are the
// operator's choice, not the tenants': a service may only forward to an application port listed for its
// processing unit, and only ask for an exposed port listed here, so that no editor of any namespace can
// point the gateway at another port of the host (the policy API, health ports) or at the gateway's own
// admin port.
import { readFile } from 'node:fs/promises';
import { parse } from 'yaml';
import { z } from '@microseg/config';

const port = z.number({ message: 'must be a TCP port number' }).int().min(1, 'must be a TCP port (1-65535)').max(65535, 'must be a TCP port (1-65535)');

const fileSchema = z.strictObject({
  /** The ports services may ask this gateway to listen on (their exposedPort). */
  exposedPorts: z.array(port, { message: 'is required: the ports services may be exposed on, such as [443]' }).min(1, 'needs at least one port'),
  processingunits: z
    .array(
      z.strictObject({
        name: z.string().min(1),
        namespace: z.string().startsWith('/'),
        address: z.string().min(1),
        /** The application ports services may forward to at this address (their `port`). */
        applicationPorts: z
          .array(port, { message: 'is required: the ports of the application at this address, such as [8080]' })
          .min(1, 'needs at least one port'),
        associatedTags: z.array(z.string().regex(/^[^=$@+\s][^=\s]*=.*$/, 'must be a tag key=value (no $, @ or + keys)')).default([]),
      }),
    )
    .min(1, 'needs at least one processing unit'),
});

export type GatewayFile = z.output<typeof fileSchema>;
export type LocalProcessingUnit = GatewayFile['processingunits'][number];

/** The gateway's file, every problem named at once; `adminPort` (its own health port) may not be exposed. */
export async function loadGatewayFile(file: string, adminPort: number): Promise<GatewayFile> {
  const result = fileSchema.safeParse(parse(await readFile(file, 'utf8')));
  const problems = result.success ? [] : result.error.issues.map((i) => `${i.path.join('.') || '(file)'}: ${i.message}`);
  if (result.success && result.data.exposedPorts.includes(adminPort))
    problems.push(`exposedPorts: ${adminPort} is this gateway's admin port (GATEWAY_ADMIN_PORT); choose other ports`);
  if (problems.length > 0 || !result.success) throw new Error(`${file}: ${problems.join('; ')}`);
  return result.data;
}

/** Whether a route from policy stays inside what this file allows (policy checks too; this is the gateway's own word). */
export function routeAllowed(file: GatewayFile, route: { exposedPort: number; port: number; processingUnit: string }): string | undefined {
  if (!file.exposedPorts.includes(route.exposedPort))
    return `exposedPort ${route.exposedPort} is not among this gateway's exposedPorts (${file.exposedPorts.join(', ')})`;
  const pu = file.processingunits.find((p) => p.name === route.processingUnit);
  if (!pu) return `processing unit ${route.processingUnit} is not fronted by this gateway`;
  if (!pu.applicationPorts.includes(route.port)) return `port ${route.port} is not an application port of ${pu.name} (${pu.applicationPorts.join(', ')})`;
  return undefined;
}
