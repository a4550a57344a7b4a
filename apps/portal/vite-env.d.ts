// Side-effect imports of style sheets (Vite bundles them into the page's CSS file).
declare module '*.css';
