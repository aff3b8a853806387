// Who is signed in, for the pages: {me, via: 'session' | 'key', role, can: {write, admin}}.
import { createContext } from 'preact';
import { useContext } from 'preact/hooks';

export const MeCtx = createContext(null);
export const useMe = () => useContext(MeCtx);
