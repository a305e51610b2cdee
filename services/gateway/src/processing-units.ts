import { readFile } from 'node:fs/promises';
import { parse } from 'yaml';
import { z } from '@microseg/config';

const fileSchema = z.object({
  processingunits: z
    .array(
      z.object({
        name: z.string().min(1),
        namespace: z.string().startsWith('/'),
        address: z.string().min(1),
        associatedTags: z.array(z.string().regex(/^[^=$@+\s][^=\s]*=.*$/, 'must be a tag key=value (no $, @ or + keys)')).default([]),
      }),
    )
    .min(1, 'needs at least one processing unit'),
});

export type LocalProcessingUnit = z.output<typeof fileSchema>['processingunits'][number];

/** The processing units this gateway fronts, from its own configuration file. */
export async function loadProcessingUnits(file: string): Promise<LocalProcessingUnit[]> {
  const result = fileSchema.safeParse(parse(await readFile(file, 'utf8')));
  if (!result.success) {
    throw new Error(`${file}: ${result.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ')}`);
  }
  return result.data.processingunits;
}
