import { useSyncExternalStore, type MouseEvent, type ReactNode } from 'react';

/**
 * Pathname routing with the History API: four routes do not need a router
 * library. The static server answers every app route with index.html.
 */
const subscribe = (onChange: () => void) => {
  window.addEventListener('popstate', onChange);
  return () => window.removeEventListener('popstate', onChange);
};

export const usePathname = () => useSyncExternalStore(subscribe, () => window.location.pathname);

export function navigate(path: string) {
  window.history.pushState(null, '', path);
  window.dispatchEvent(new PopStateEvent('popstate'));
}

export function Link({ to, children }: { to: string; children: ReactNode }) {
  const onClick = (event: MouseEvent<HTMLAnchorElement>) => {
    // Let modified clicks (new tab, …) do what the browser does.
    if (event.metaKey || event.ctrlKey || event.shiftKey || event.button !== 0) return;
    event.preventDefault();
    navigate(to);
  };
  return (
    <a href={to} onClick={onClick}>
      {children}
    </a>
  );
}

export type Route =
  { view: 'home' } | { view: 'tenant'; tenantId: string } | { view: 'operator' } | { view: 'status' } | { view: 'notFound' };

export function routeOf(pathname: string): Route {
  if (pathname === '/') return { view: 'home' };
  if (pathname === '/operator') return { view: 'operator' };
  if (pathname === '/status') return { view: 'status' };
  const tenant = /^\/tenants\/([^/]+)$/.exec(pathname);
  if (tenant?.[1] !== undefined) return { view: 'tenant', tenantId: decodeURIComponent(tenant[1]) };
  return { view: 'notFound' };
}
