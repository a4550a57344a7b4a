export const hello = (): string => 'billing';
