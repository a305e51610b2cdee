// @microseg/contracts: the vocabulary every service shares.
export * from './names.ts';
export * from './objects.ts';
export * from './access.ts';
export * from './namespaces.ts';
export * from './requests.ts';
export * from './events.ts';
